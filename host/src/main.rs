//! `artifact`: parses arguments and dispatches; each subcommand lives in `cli/<name>.rs`.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    std::process::exit(cli::run(args));
}
