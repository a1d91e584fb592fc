//! JUnit XML of the verdicts (`--junit FILE` of `check` and `traces check`), so that any CI
//! system shows properties as tests.
//!
//! * `check`: one `<testsuite>` per check (one for a configuration, one per proof of a preset),
//!   one `<testcase>` per property. PASS is a passing test case. FAIL is a `<failure
//!   type="FAIL">` whose text is the counterexample listing (with its trace file and Explorer
//!   link), or says that an exhaustive run found no example of a sometimes property.
//!   **INCOMPLETE is an `<error type="INCOMPLETE">`**: the property was not decided (a depth
//!   bound or timeout stopped the run, or another property's counterexample did), so it is not
//!   a pass, and not a found bug either — JUnit's "error" is exactly "the test could not
//!   finish". A CI system therefore never shows an unfinished proof as green.
//! * `traces check`: one `<testcase>` per trace file; a divergence is a `<failure>`, a file
//!   that could not be read or expressed in the model an `<error>`.

use crate::report::{CheckRecord, CheckRun, TraceRun};
use std::fmt::Write;

/// `run` as a JUnit XML document.
pub fn check_run(run: &CheckRun) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors, mut time) = (0, 0, 0, 0.0);
    for check in &run.checks {
        let (t, f, e) = counts(check.properties.iter().map(|p| p.verdict.as_str()));
        tests += t;
        failures += f;
        errors += e;
        time += check.seconds;
        suites.push_str(&check_suite(check, t, f, e));
    }
    document("synod-model check", tests, failures, errors, time, &suites)
}

/// `run` as a JUnit XML document.
pub fn trace_run(run: &TraceRun) -> String {
    let (tests, failures, errors) = counts(run.traces.iter().map(|t| t.verdict));
    let mut cases = String::new();
    for trace in &run.traces {
        let body = match (trace.verdict, &trace.message) {
            ("PASS", _) => String::new(),
            ("FAIL", message) => outcome("failure", "FAIL", "the model diverges", message),
            (_, message) => outcome("error", "ERROR", "not checked", message),
        };
        let _ = writeln!(
            cases,
            "    <testcase name=\"{}\" classname=\"synod-model.traces\">{}</testcase>",
            escape(&trace.file),
            body
        );
    }
    let suite = format!(
        "  <testsuite name=\"traces check\" tests=\"{tests}\" failures=\"{failures}\" \
         errors=\"{errors}\">\n{cases}  </testsuite>\n"
    );
    document(
        "synod-model traces check",
        tests,
        failures,
        errors,
        0.0,
        &suite,
    )
}

/// Tests, failures (FAIL) and errors (anything else but PASS) among `verdicts`.
fn counts<'a>(verdicts: impl Iterator<Item = &'a str>) -> (usize, usize, usize) {
    verdicts.fold((0, 0, 0), |(t, f, e), v| match v {
        "PASS" => (t + 1, f, e),
        "FAIL" => (t + 1, f + 1, e),
        _ => (t + 1, f, e + 1),
    })
}

fn document(
    name: &str,
    tests: usize,
    failures: usize,
    errors: usize,
    time: f64,
    suites: &str,
) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{name}\" \
         tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">\n\
         {suites}</testsuites>\n"
    )
}

fn check_suite(check: &CheckRecord, tests: usize, failures: usize, errors: usize) -> String {
    let mut props = String::new();
    let mut property = |name: &str, value: String| {
        let _ = writeln!(
            props,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(&value)
        );
    };
    property("command", check.command.clone());
    property("protocol", check.configuration.protocol.clone());
    property("verdict", check.verdict.to_string());
    property("exhaustive", check.exhaustive.to_string());
    property("unique_states", check.unique_states.to_string());
    property("total_states", check.total_states.to_string());
    property("depth", check.depth.to_string());
    if let Some(rss) = check.peak_rss_bytes {
        property("peak_rss_bytes", rss.to_string());
    }
    let classname = format!("synod-model.{}", check.name);
    let mut cases = String::new();
    for p in &check.properties {
        let mut detail = p.listing.clone();
        for extra in [&p.trace_file, &p.explore_command, &p.explore_url]
            .into_iter()
            .flatten()
        {
            let text = detail.get_or_insert_with(String::new);
            let _ = write!(text, "\n{extra}");
        }
        let body = match p.verdict.as_str() {
            "PASS" => String::new(),
            "FAIL" => outcome(
                "failure",
                "FAIL",
                &format!("counterexample to '{}'", p.name),
                &detail,
            ),
            _ => outcome(
                "error",
                "INCOMPLETE",
                "not decided: a bound, a timeout or another property's counterexample stopped \
                 the run (not a proof)",
                &detail,
            ),
        };
        let _ = writeln!(
            cases,
            "    <testcase name=\"{} ({})\" classname=\"{}\">{body}</testcase>",
            escape(&p.name),
            p.kind,
            escape(&classname)
        );
    }
    format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
         time=\"{:.3}\">\n    <properties>\n{props}    </properties>\n{cases}    \
         <system-out>{}</system-out>\n  </testsuite>\n",
        escape(&check.name),
        check.seconds,
        escape(&format!(
            "{}\n{}",
            check.command, check.configuration.summary
        ))
    )
}

/// A `<failure>` or `<error>` element.
fn outcome(element: &str, kind: &str, message: &str, text: &Option<String>) -> String {
    format!(
        "<{element} type=\"{kind}\" message=\"{}\">{}</{element}>",
        escape(message),
        escape(text.as_deref().unwrap_or(message))
    )
}

/// `text` escaped for XML attribute values and text, without the control characters XML 1.0
/// forbids.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b & 'c' \"d\"\u{1}>"),
            "a&lt;b &amp; &apos;c&apos; &quot;d&quot;&gt;"
        );
    }
}
