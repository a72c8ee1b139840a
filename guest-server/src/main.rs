//! `cvm-consoled`: the in-guest server. See DESIGN.md "Command line".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use cvmc_protocol::snp::product::Product;

#[derive(Parser, Debug)]
#[command(name = "cvm-consoled", version, about = "cvm-console in-guest server: attested console and screen")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Make a SIMULATED test chain in DIR, with server.toml and a client policy.toml trusting it.
    SimInit {
        /// Directory to create.
        dir: PathBuf,
        /// Product whose names and TCB layout the test chain imitates.
        #[arg(long, value_enum, default_value_t = ProductArg::Milan)]
        product: ProductArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProductArg {
    Milan,
    Genoa,
    Turin,
}

impl From<ProductArg> for Product {
    fn from(p: ProductArg) -> Self {
        match p {
            ProductArg::Milan => Product::Milan,
            ProductArg::Genoa => Product::Genoa,
            ProductArg::Turin => Product::Turin,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::SimInit { dir, product }) => cvm_consoled::siminit::sim_init(&dir, product.into())
            .map(|()| {
                println!("SIMULATED chain written to {} (TEST KEYS, NOT CONFIDENTIAL)", dir.display());
                println!("  server config: {}", dir.join(cvm_consoled::siminit::files::SERVER).display());
                println!("  client policy: {}", dir.join(cvm_consoled::siminit::files::POLICY).display());
            })
            .map_err(|e| e.to_string()),
        None => Err("serving is not available in this build yet: only `sim-init` is implemented".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cvm-consoled: error: {e}");
            ExitCode::FAILURE
        }
    }
}
