//! `cvm-console`: see docs/DESIGN.md "Command line" and [`cvm_console::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = cvm_console::cli::main_with_args(std::env::args_os(), &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(code)
}
