//! The client's command line run in-process, as the binary runs it
//! ([`cvm_console::cli::main_with_args`]): the exit status and what it printed.

/// One run of `cvm-console`.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub code: u8,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Run `cvm-console ARGS...`.
pub fn cli(args: &[&str]) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut argv = vec!["cvm-console"];
    argv.extend_from_slice(args);
    let code = cvm_console::cli::main_with_args(argv, &mut out, &mut err);
    Run {
        code,
        stdout: String::from_utf8(out).expect("the CLI prints UTF-8"),
        stderr: String::from_utf8(err).expect("the CLI prints UTF-8"),
    }
}
