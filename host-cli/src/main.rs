//! `flashnet`: the command line of the flashnet engine. This file only dispatches; each
//! subcommand lives in `commands/`.

use std::process::ExitCode;

use clap::Parser;
use flashnet_cli::cli::{Cli, Command};
use flashnet_cli::{commands, interrupt, kernel_path};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = kernel_path::select() {
        flashnet_cli::say!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Train(a) => commands::train::run(a),
        Command::Evaluate(a) => commands::evaluate::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Summary(a) => commands::summary::run(a),
        Command::Download(a) => commands::download::run(a),
        Command::Quantize(a) => commands::quantize::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(stop) = e.downcast_ref::<interrupt::Interrupted>() {
                flashnet_cli::say!("{stop}");
                return ExitCode::from(interrupt::EXIT_CODE);
            }
            // One line: the context chain joined by ": ".
            flashnet_cli::say!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
