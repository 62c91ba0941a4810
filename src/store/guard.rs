//! Reading files that may be damaged: the Parquet reader can panic on some corrupt bytes
//! instead of returning an error, so every read of a file coordsim did not just write runs
//! behind [`unpanicked`], which turns such a panic into an error naming the file.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use super::OutputError;

thread_local! {
    /// Whether this thread is inside [`unpanicked`]: its panics are caught and said once, by
    /// the caller, not printed by the panic hook.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// The message of the last panic caught on this thread.
    static MESSAGE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs, once, a panic hook that keeps quiet about the panics [`unpanicked`] catches and
/// leaves every other panic to the hook that was there.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown failure".to_string());
                MESSAGE.with(|m| *m.borrow_mut() = message.replace('\n', " "));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `read`, a read of a file; a panic inside it becomes the error `damaged` makes of the
/// words "damaged: the Parquet reader failed (...)".
pub fn unpanicked<T, E>(
    read: impl FnOnce() -> Result<T, E>,
    damaged: impl FnOnce(String) -> E,
) -> Result<T, E> {
    install_hook();
    let outer = GUARDED.with(|g| g.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(read));
    GUARDED.with(|g| g.set(outer));
    result.unwrap_or_else(|_| {
        let message = MESSAGE.with(|m| std::mem::take(&mut *m.borrow_mut()));
        Err(damaged(format!(
            "damaged: the Parquet reader failed ({message})"
        )))
    })
}

/// [`unpanicked`] for a read of `path` that fails with an [`OutputError`].
pub fn unpanicked_file<T>(
    path: &Path,
    read: impl FnOnce() -> Result<T, OutputError>,
) -> Result<T, OutputError> {
    unpanicked(read, |message| OutputError::Format {
        path: path.to_path_buf(),
        message,
    })
}

/// Opens `path` for reading if it is a regular file: a FIFO or a device would block a read
/// forever or never end.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_file() {
        let path = Path::new("x.parquet");
        let error = unpanicked_file::<()>(path, || panic!("index out of bounds")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.parquet: damaged: the Parquet reader failed (index out of bounds)"
        );
        assert_eq!(unpanicked_file(path, || Ok(7)).unwrap(), 7);
        // Nested guards restore the outer state.
        let nested = unpanicked_file(path, || {
            let inner = unpanicked_file::<()>(path, || panic!("inner"));
            assert!(inner.is_err());
            Ok(GUARDED.with(Cell::get))
        });
        assert!(nested.unwrap());
        assert!(!GUARDED.with(Cell::get));
    }
}
