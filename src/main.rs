//! The `suivi` command line: parses arguments, sets up logging, and maps
//! errors to the documented exit codes. All the work is in the library.

use clap::Parser;
use suivi::error::exit;

mod cli;

fn main() {
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
    let progress = args.log.allows_progress();
    let code = match cli::dispatch(args.command, progress) {
        Ok(()) => exit::SUCCESS,
        // `suivi inspect file | head`: the reader left, nothing went wrong.
        Err(suivi::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
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
