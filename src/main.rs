//! The `suivi` command line: parses arguments, sets up logging, and maps
//! errors to the documented exit codes. All the work is in the library.

use clap::Parser;
use suivi_core::error::exit;

mod bench;
mod cli;
mod failure;

/// Large CSV files are parsed in batches whose buffers come and go; glibc's
/// malloc hands them back to the kernel and gets fresh zeroed pages for each
/// (a fifth of a national-scale run went to clearing pages). mimalloc keeps
/// and reuses them; polars recommends it, or jemalloc, for the same reason.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, in
/// mimalloc.h: the sys crate names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed goes back to the kernel at once instead of a second later:
/// kept, a national run's freed batch buffers and duplicate index were
/// still held when the indicators were computed (peak 3.7 GB, against
/// 3.1 GB purged at once, for the same time; Loire scales alike).
fn purge_freed_memory_at_once() {
    // SAFETY: mimalloc's options may be set at any time from any thread;
    // this one only says when freed pages are handed back.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
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
    purge_freed_memory_at_once();
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

    /// The option's place is right: its default is 1000 ms (mimalloc v3's
    /// options.c), which no neighbouring option has.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading an option is thread-safe in mimalloc.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 1000);
        purge_freed_memory_at_once();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 0);
    }
}
