//! `tether`: serve the Echo service, load-test a Thrift server, or generate Rust from IDL.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod gen;
mod serve;
mod units;

/// Synchronous Thrift RPC with first-class long-connection management.
#[derive(Debug, Parser)]
#[command(name = "tether", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the RPC backend (the Echo service of idl/echo.thrift).
    Serve(serve::ServeArgs),
    /// Load-test a Thrift server that implements the Echo service.
    Bench(bench::BenchArgs),
    /// Generate Rust code from Thrift IDL files.
    Gen(gen::GenArgs),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Gen(args) => gen::run(args),
    }
}
