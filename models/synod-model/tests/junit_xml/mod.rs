//! A strict reader of the XML subset JUnit reports use (a prolog, elements, attributes, text,
//! the five predefined entities), for the report tests: it panics on anything malformed — an
//! unclosed or mismatched tag, an unquoted or repeated attribute, a raw `<` or a stray `&` in
//! text — so a report that a CI system could not parse fails the test.

use std::collections::BTreeMap;

/// An element: its name, attributes, child elements and text (unescaped, concatenated).
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The value of attribute `name` (panics if absent).
    pub fn attr(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .unwrap_or_else(|| panic!("<{}> has no attribute {name}", self.name))
    }

    /// The children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// The root element of `doc`.
pub fn parse(doc: &str) -> Element {
    let mut rest = doc.trim_start();
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").expect("the prolog ends");
        rest = after[end + 2..].trim_start();
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').expect("an end tag ends");
            let name = after[..end].trim();
            let element = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(element.name, name, "mismatched end tag");
            rest = &after[end + 1..];
            close(&mut stack, &mut root, element);
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').expect("a start tag ends");
            let (tag, empty) = match after[..end].strip_suffix('/') {
                Some(tag) => (tag, true),
                None => (&after[..end], false),
            };
            let element = start_tag(tag);
            rest = &after[end + 1..];
            if empty {
                close(&mut stack, &mut root, element);
            } else {
                stack.push(element);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = unescape(&rest[..end]);
            match stack.last_mut() {
                Some(open) => open.text.push_str(&text),
                None => assert!(text.trim().is_empty(), "text outside the root: {text:?}"),
            }
            rest = &rest[end..];
        }
    }
    assert!(
        stack.is_empty(),
        "unclosed elements: {:?}",
        stack.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    root.expect("a root element")
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => {
            assert!(root.is_none(), "a second root element <{}>", element.name);
            *root = Some(element);
        }
    }
}

fn start_tag(tag: &str) -> Element {
    let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
    let name = &tag[..name_end];
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c)),
        "bad element name {name:?}"
    );
    let mut element = Element {
        name: name.to_string(),
        ..Element::default()
    };
    let mut rest = tag[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .unwrap_or_else(|| panic!("attribute without value in <{tag}>"));
        let key = rest[..eq].trim();
        let value = rest[eq + 1..].trim_start();
        let value = value
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("unquoted attribute in <{tag}>"));
        let end = value.find('"').expect("an attribute value ends");
        let previous = element
            .attrs
            .insert(key.to_string(), unescape(&value[..end]));
        assert!(previous.is_none(), "attribute {key} twice in <{name}>");
        rest = value[end + 1..].trim_start();
    }
    element
}

fn unescape(text: &str) -> String {
    assert!(!text.contains('<'), "raw '<' in {text:?}");
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let end = rest[amp..]
            .find(';')
            .map(|e| amp + e)
            .expect("an entity ends");
        out.push(match &rest[amp + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            other => panic!("unknown entity &{other};"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
