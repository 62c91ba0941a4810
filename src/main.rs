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

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, `mimalloc.h`).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the process up for a run, which frees and allocates the same sizes cell after cell
/// (histograms, Parquet pages). Freed memory is kept for reuse instead of being returned to
/// the system a moment later, to come back as fresh pages the kernel must zero. And no
/// transparent huge pages: on a machine whose memory another program has just fragmented,
/// the kernel compacts memory to find each one, which can cost a short run more time than
/// its cells. The peak, which the cells in flight bound, is unchanged.
fn tune_memory() {
    // SAFETY: sets an allocator option, which mimalloc allows at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
    // SAFETY: a flag of this process's memory, checked by the kernel at each page fault;
    // where it is refused, pages are as before.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    tune_memory();
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

#[cfg(test)]
mod tests {
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_purge_delay_is_the_option_set() {
        // mimalloc's own default, distinct from its neighbours': another option's place
        // would read differently.
        // SAFETY: reads allocator options.
        assert_eq!(unsafe { mi_option_get(super::PURGE_DELAY) }, 1000);
        super::tune_memory();
        assert_eq!(unsafe { mi_option_get(super::PURGE_DELAY) }, -1);
        #[cfg(target_os = "linux")]
        // SAFETY: reads this process's flag.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }
}
