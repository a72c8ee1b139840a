//! `cvmc-dist OUT_DIR`: man pages (`OUT_DIR/man/cvm-console.1`, `cvm-consoled.8`, and
//! one page per subcommand) and shell completions (`OUT_DIR/completions/` for bash,
//! zsh and fish) generated from the binaries' clap definitions, for the packages.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory as _;

fn write_man(cmd: &clap::Command, section: &str, dir: &Path) -> std::io::Result<()> {
    let name = cmd.get_name().to_owned();
    let man = clap_mangen::Man::new(cmd.clone()).section(section);
    let mut page = Vec::new();
    man.render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.{section}")), page)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let full = format!("{name}-{}", sub.get_name());
        let sub = sub.clone().name(full.clone()).bin_name(format!("{name} {}", sub.get_name()));
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).section(section).render(&mut page)?;
        std::fs::write(dir.join(format!("{full}.{section}")), page)?;
    }
    Ok(())
}

fn write_completions(cmd: &mut clap::Command, dir: &Path) -> std::io::Result<()> {
    use clap_complete::Shell;
    let name = cmd.get_name().to_owned();
    for (shell, sub, file) in [
        (Shell::Bash, "bash", name.clone()),
        (Shell::Zsh, "zsh", format!("_{name}")),
        (Shell::Fish, "fish", format!("{name}.fish")),
    ] {
        let dir = dir.join(sub);
        std::fs::create_dir_all(&dir)?;
        let mut out = std::fs::File::create(dir.join(file))?;
        clap_complete::generate(shell, cmd, &name, &mut out);
    }
    Ok(())
}

fn run(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    let mut client = cvm_console::cli::Cli::command();
    let mut server = cvm_consoled::cli::Cli::command();
    write_man(&client, "1", &man)?;
    write_man(&server, "8", &man)?;
    write_completions(&mut client, &completions)?;
    write_completions(&mut server, &completions)?;
    Ok(())
}

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: cvmc-dist OUT_DIR");
        return ExitCode::from(2);
    };
    match run(Path::new(&out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cvmc-dist: {e}");
            ExitCode::FAILURE
        }
    }
}
