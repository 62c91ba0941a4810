//! Writing a file atomically: under a temporary name beside it (`.<name>.tmp`), synced, then
//! renamed into place. A crash leaves the old file or the new one, never a truncated one; a
//! write that fails, or a file dropped before it is committed, leaves nothing.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::OutputError;

/// The temporary name a file is written under before it is renamed to `path`.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// A file being written under its temporary name; [`AtomicFile::commit`] puts it in place,
/// and dropping it uncommitted removes it.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file of `path`; returns it with the file to write.
    pub fn create(path: &Path) -> Result<(Self, File), OutputError> {
        let tmp = temporary_path(path);
        let file = File::create(&tmp).map_err(OutputError::io(&tmp))?;
        let atomic = Self {
            path: path.to_path_buf(),
            tmp,
            committed: false,
        };
        Ok((atomic, file))
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs `file` (the one [`AtomicFile::create`] returned, written) and renames it into
    /// place; returns the final path.
    pub fn commit(mut self, file: File) -> Result<PathBuf, OutputError> {
        file.sync_all().map_err(OutputError::io(&self.tmp))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(OutputError::io(&self.path))?;
        self.committed = true;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `path` atomically through `write`.
pub fn write(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), OutputError>,
) -> Result<PathBuf, OutputError> {
    let (atomic, mut file) = AtomicFile::create(path)?;
    write(&mut file)?;
    atomic.commit(file)
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<PathBuf, OutputError> {
    write(path, |file| {
        file.write_all(bytes)
            .and_then(|()| file.flush())
            .map_err(OutputError::io(path))
    })
}
