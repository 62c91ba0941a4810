//! A run's output directory: created for the run, removed again if the run fails before it
//! saved anything, kept once it succeeds.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{Export, OutputError, Results, atomic, layout};

/// The directories this process created for runs not yet finished: what
/// [`remove_unfinished`] removes when the process ends without unwinding.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn lock(m: &Mutex<Vec<PathBuf>>) -> MutexGuard<'_, Vec<PathBuf>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(path: &Path) {
    lock(&UNFINISHED).retain(|p| p != path);
}

/// Removes `path` unless it holds checkpointed work; returns whether it did.
fn remove_unsaved(path: &Path) -> bool {
    let checkpointed = fs::read_dir(path.join(layout::CHECKPOINTS))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        })
        .unwrap_or(false);
    !checkpointed && fs::remove_dir_all(path).is_ok()
}

/// Removes the directories of unfinished runs that hold no checkpointed work, as a failed
/// run's [`RunDir`] does when dropped: for an end that drops nothing (out of memory). Best
/// effort; never blocks.
pub fn remove_unfinished() {
    if let Ok(paths) = UNFINISHED.try_lock() {
        for path in paths.iter() {
            remove_unsaved(path);
        }
    }
}

/// An output directory of a run. One this run created is removed again if the run fails
/// before [`RunDir::keep`] is called, unless it holds checkpointed work; so are the parent
/// folders it created for it.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    keep: bool,
    /// Whether this run created `path`.
    made: bool,
    /// The parents of `path` this run created, outermost first.
    parents: Vec<PathBuf>,
}

impl RunDir {
    /// Creates `path`, which must not exist, and the parents it lacks.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        if path.exists() {
            return Err(OutputError::Exists(path.to_path_buf()));
        }
        // The missing parents, innermost first, up to the first that exists.
        let mut missing = Vec::new();
        let mut ancestor = path.parent();
        while let Some(a) = ancestor.filter(|p| !p.as_os_str().is_empty()) {
            match fs::metadata(a) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => {
                    return Err(OutputError::NotADirectory {
                        file: a.to_path_buf(),
                        path: path.to_path_buf(),
                    });
                }
                // Missing, or below a file (which a further step up finds).
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        || e.kind() == io::ErrorKind::NotADirectory =>
                {
                    missing.push(a.to_path_buf());
                    ancestor = a.parent();
                }
                Err(e) => return Err(OutputError::io(a)(e)),
            }
        }
        let mut dir = Self {
            path: path.to_path_buf(),
            keep: false,
            made: false,
            parents: Vec::new(),
        };
        // On an error, dropping `dir` removes the parents created so far.
        for parent in missing.into_iter().rev() {
            match fs::create_dir(&parent) {
                Ok(()) => dir.parents.push(parent),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && parent.is_dir() => {}
                Err(e) => return Err(OutputError::io(&parent)(e)),
            }
        }
        match fs::create_dir(path) {
            Ok(()) => {
                dir.made = true;
                lock(&UNFINISHED).push(path.to_path_buf());
                Ok(dir)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(OutputError::Exists(path.to_path_buf()))
            }
            Err(e) => Err(OutputError::io(path)(e)),
        }
    }

    /// A path `<parent>/<name>-<stamp>` that does not exist yet, adding `-2`, `-3`, ... if
    /// taken.
    pub fn fresh_path(parent: &Path, name: &str, stamp: &str) -> PathBuf {
        (1u32..)
            .map(|n| match n {
                1 => parent.join(format!("{name}-{stamp}")),
                n => parent.join(format!("{name}-{stamp}-{n}")),
            })
            .find(|p| !p.exists())
            .expect("some name is free")
    }

    /// An existing directory (a run being resumed): never removed.
    pub fn existing(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            keep: true,
            made: false,
            parents: Vec::new(),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one file atomically: to a temporary name, synced, then renamed into place.
    pub fn write(
        &self,
        export: &dyn Export,
        results: &Results<'_>,
    ) -> Result<PathBuf, OutputError> {
        let path = self.path.join(export.file_name());
        atomic::write(&path, |file| export.write(results, file, &path))
    }

    /// Keeps the directory: the run succeeded.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        forget(&self.path);
        std::mem::take(&mut self.path)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep || self.path.as_os_str().is_empty() {
            return;
        }
        if self.made {
            forget(&self.path);
            if !remove_unsaved(&self.path) {
                return;
            }
        }
        // The parents this run created, innermost first, as long as they are empty.
        for parent in self.parents.iter().rev() {
            if fs::remove_dir(parent).is_err() {
                break;
            }
        }
    }
}
