//! The `suivi` command line: parses arguments, sets up logging, and maps
//! errors to the documented exit codes. All the work is in the library.

use clap::Parser;
use suivi_core::error::exit;

mod bench;
mod cli;
mod failure;

/// Large CSV files are parsed in batches whose buffers come and go; glibc's
/// malloc hands them back to the kernel and gets fresh zeroed pages for each,
/// and at national scale clearing pages becomes a large part of the run.
/// mimalloc keeps and reuses them; polars recommends it, or jemalloc, for the
/// same reason.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, in
/// mimalloc.h: the sys crate names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds freed memory is kept before it goes back to the kernel:
/// mimalloc's default second keeps a national run's freed batch buffers and
/// duplicate index while the indicators are computed (a higher peak for the
/// same time), but purged at once, buffers freed and asked for again a
/// moment later come back as fresh pages, zeroed by the kernel (page faults
/// and time). A few tens of milliseconds lets a batch's buffers serve the
/// next one and still hands them back before the next stage (measured in
/// commit a898803).
const PURGE_DELAY_MS: std::ffi::c_long = 50;

fn purge_freed_memory_soon() {
    // SAFETY: mimalloc's options may be set at any time from any thread;
    // this one only says when freed pages are handed back.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) };
}

/// mimalloc's `mi_option_allow_thp` (as above, from mimalloc.h).
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Memory in 4 KiB pages, not transparent huge pages: mimalloc asks for 2
/// MiB pages on its arenas (where the kernel allows it on request, as
/// Debian's `madvise` setting does), and a huge page stays resident while
/// any of it is in use, so a national run's freed batch buffers could not
/// go back between the table's chunks: small pages give a lower peak and a
/// faster run at national scale (measured in commit 5d81952).
fn keep_memory_pages_small() {
    // SAFETY: as for the purge delay; this one stops mimalloc asking for
    // huge pages from now on.
    unsafe { libmimalloc_sys::mi_option_set(ALLOW_THP, 0) };
    // The arena mimalloc reserved before `main` already asked: the
    // process as a whole is told to get none. SAFETY: prctl with this
    // option only sets a flag of the calling process.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0)
    };
}

/// Stack for every thread (ours, rayon's, polars'). Polars plans and
/// evaluates expressions recursively; in an unoptimised build a worker's
/// default 2 MiB overflowed now and then on the Loire pipeline.
const THREAD_STACK_BYTES: &str = "33554432";

fn main() {
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        // SAFETY: the first statement of main: no other thread exists yet to read the environment.
        unsafe { std::env::set_var("RUST_MIN_STACK", THREAD_STACK_BYTES) };
    }
    purge_freed_memory_soon();
    keep_memory_pages_small();
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    cli::init_logging(&args.log);
    // A reader's panic becomes an error naming its file: no backtrace for it.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if suivi_core::ingest::reading() {
            tracing::debug!("a file reader failed: {info}");
        } else {
            default_hook(info);
        }
    }));
    let progress = args.log.allows_progress();
    let code = match cli::dispatch(args.command, progress) {
        Ok(()) => exit::SUCCESS,
        // `suivi inspect file | head`: the reader left, nothing went wrong.
        Err(failure::Failure::Core(suivi_core::Error::Io { source, .. }))
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            exit::SUCCESS
        }
        Err(e) => {
            let code = e.exit_code();
            tracing::error!(exit_code = code, "{e}");
            code
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An option's value now. SAFETY: reading an option is thread-safe in mimalloc.
    fn option(option: libmimalloc_sys::mi_option_t) -> std::ffi::c_long {
        unsafe { libmimalloc_sys::mi_option_get(option) }
    }

    /// The option's place is right: its default is 1000 ms (mimalloc v3's
    /// options.c), which no neighbouring option has.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(option(PURGE_DELAY), 1000);
        purge_freed_memory_soon();
        assert_eq!(option(PURGE_DELAY), PURGE_DELAY_MS);
    }

    /// As above: the option's default is 1 (options.c), which neither
    /// neighbour has (16 before it, 0 after).
    #[test]
    fn the_huge_pages_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return;
        }
        assert_eq!(option(ALLOW_THP), 1);
        keep_memory_pages_small();
        assert_eq!(option(ALLOW_THP), 0);
        #[cfg(target_os = "linux")]
        // SAFETY: reads a flag of the calling process.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }
}
