//! Undoing a failed `serve --init`: a node that created its data directory and then could not
//! start (a busy port, say) removes what it created, so that the retry finds the directory as the
//! operator left it — missing or empty — instead of refusing it as "not empty".
//!
//! Only what `--init` may create is removed, and only when the directory was missing or empty
//! before: the database file(s) inside it, the directory itself if it was missing, and the
//! parent directories made for it that are still empty. A directory that held anything is never
//! touched (`--init` refuses it before writing).

use std::path::{Path, PathBuf};

/// What a `--init` start found before it ran; [`InitUndo::undo`] puts it back.
#[derive(Debug)]
pub struct InitUndo {
    dir: PathBuf,
    /// The directories `--init` may create: `dir` and its missing ancestors, innermost first
    /// (empty when `dir` already existed).
    missing: Vec<PathBuf>,
}

impl InitUndo {
    /// Records the state of `dir` before a `--init` start; `None` if that start will create
    /// nothing (the directory is not a missing-or-empty directory, so `--init` refuses it).
    pub fn record(dir: &Path) -> Option<Self> {
        let mut missing = Vec::new();
        let mut cursor = Some(dir);
        while let Some(path) = cursor {
            if path.as_os_str().is_empty() || path.symlink_metadata().is_ok() {
                break;
            }
            missing.push(path.to_owned());
            cursor = path.parent();
        }
        if missing.is_empty() && !is_empty_dir(dir) {
            return None;
        }
        Some(InitUndo {
            dir: dir.to_owned(),
            missing,
        })
    }

    /// Removes what the failed start created. Best effort: what cannot be removed is left, and
    /// the failure is logged.
    pub fn undo(self) {
        let result = if self.missing.is_empty() {
            empty_dir(&self.dir)
        } else {
            std::fs::remove_dir_all(&self.dir)
        };
        if let Err(e) = result {
            tracing::warn!(
                "could not remove what the failed --init created in {}: {e}",
                self.dir.display()
            );
            return;
        }
        // Parent directories made for `dir`, innermost first, while they are empty.
        for parent in self.missing.iter().skip(1) {
            if std::fs::remove_dir(parent).is_err() {
                break;
            }
        }
    }
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// Removes every entry of `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_and_its_new_parents_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/node");
        let undo = InitUndo::record(&dir).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("synod.redb"), b"db").unwrap();
        undo.undo();
        assert!(!tmp.path().join("a").exists());
        assert!(tmp.path().exists());
    }

    #[test]
    fn an_empty_directory_is_emptied_again_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let undo = InitUndo::record(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("synod.redb"), b"db").unwrap();
        undo.undo();
        assert!(tmp.path().is_dir());
        assert!(is_empty_dir(tmp.path()));
    }

    #[test]
    fn a_directory_holding_anything_or_a_file_is_never_touched() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep"), b"x").unwrap();
        assert!(InitUndo::record(tmp.path()).is_none());
        assert!(InitUndo::record(&tmp.path().join("keep")).is_none());
    }
}
