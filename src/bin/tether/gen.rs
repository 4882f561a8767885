//! `tether gen`: Thrift IDL to Rust.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Flags of `tether gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// IDL files to compile (files they include are compiled too).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Directory for the generated `.rs` files and `mod.rs`.
    #[arg(long)]
    pub out: PathBuf,
}

/// Generates the code and reports where it went.
pub fn run(args: GenArgs) -> ExitCode {
    eprintln!("tether gen: not built yet ({args:?})");
    ExitCode::FAILURE
}
