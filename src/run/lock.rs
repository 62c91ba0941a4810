//! The lock of a run directory: one process runs in it at a time.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::OutputError;
use crate::store::layout::LOCK_FILE;

use super::RunError;

/// A run directory's lock ([`LOCK_FILE`]), held while the file is open: a second process on
/// the same directory is refused instead of interleaving its checkpoints. Every process takes
/// it before it reads whether the run is complete, and the file is removed only once the run
/// is, so a process that gets a lock on a removed file finds the run complete.
pub(super) struct RunLock {
    path: PathBuf,
    _file: fs::File,
}

impl RunLock {
    /// Takes the lock of `dir`.
    pub(super) fn take(dir: &Path) -> Result<Self, RunError> {
        let path = dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(OutputError::io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path, _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(RunError::Locked {
                dir: dir.to_path_buf(),
            }),
            Err(fs::TryLockError::Error(error)) => Err(OutputError::Io { path, error }.into()),
        }
    }

    /// Removes the lock file of a complete run, and releases the lock.
    pub(super) fn remove(self) -> Result<(), RunError> {
        fs::remove_file(&self.path).map_err(|e| OutputError::io(&self.path)(e).into())
    }
}
