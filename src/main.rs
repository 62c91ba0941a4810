//! `coordsim`: set up the process, then hand it to the command line (`cli`).

mod cli;

use std::alloc::{GlobalAlloc, Layout};
use std::process::ExitCode;

use mimalloc::MiMalloc;

/// mimalloc, with an allocation that fails ending the process in one line (see
/// [`out_of_memory`]) instead of an abort.
struct Allocator;

#[global_allocator]
static GLOBAL: Allocator = Allocator;

// SAFETY: every call is forwarded to mimalloc with its arguments unchanged; a null result
// never returns (the process ends).
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { MiMalloc.alloc(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { MiMalloc.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory(new_size);
        }
        p
    }
}

/// The exit code of a process that ran out of memory.
const OUT_OF_MEMORY: i32 = 3;

/// Says in one line that `bytes` more could not be allocated, removes the directory of an
/// unfinished run that saved nothing, and ends the process with [`OUT_OF_MEMORY`]. Formats
/// without allocating.
#[cold]
#[inline(never)]
fn out_of_memory(bytes: usize) -> ! {
    let mut digits = [0u8; 20];
    let mut n = bytes;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let parts: [&[u8]; 3] = [
        b"error: out of memory: ",
        &digits[start..],
        b" bytes more could not be allocated (run with fewer --threads, fewer cells or trials \
          at once, or more memory)\n",
    ];
    for part in parts {
        // SAFETY: writes a valid buffer to standard error; a failed write is ignored.
        unsafe {
            libc::write(2, part.as_ptr().cast(), part.len());
        }
    }
    coordsim::store::remove_unfinished();
    // SAFETY: ends the process at once; nothing is unwound or flushed.
    unsafe { libc::_exit(OUT_OF_MEMORY) }
}

fn main() -> ExitCode {
    // A file-size limit (ulimit -f) then fails a write with an error the run reports and
    // cleans up after, instead of killing the process mid-file.
    // SAFETY: setting a signal's disposition to "ignore" touches no Rust state.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // A panic is a bug: one line saying where, then the unwinding removes what the failed
    // run created, and the process exits with 101.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {}",
            cli::printable(&message.replace('\n', " "))
        );
    }));
    cli::main()
}
