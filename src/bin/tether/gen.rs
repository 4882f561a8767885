//! `tether gen`: Thrift IDL to Rust.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tether::codegen::Builder;

/// Flags of `tether gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// IDL files to compile (files they include are compiled too).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Directory for the generated `.rs` files and `mod.rs`.
    #[arg(long)]
    pub out: PathBuf,
    /// Directories searched for included files after the including file's own.
    #[arg(long = "include", short = 'I')]
    pub include_dirs: Vec<PathBuf>,
    /// The path generated code uses for the tether crate (`crate` inside tether itself).
    #[arg(long, default_value = "::tether")]
    pub runtime: String,
    /// Keep explicit field ids <= 0 as written instead of renumbering them as Apache's compiler
    /// does by default (its flag of the same name).
    #[arg(long)]
    pub allow_neg_keys: bool,
}

/// Generates the code and reports where it went.
pub fn run(args: GenArgs) -> ExitCode {
    // A directory that may be checked in: no include.rs with this machine's absolute paths.
    let mut builder = Builder::new()
        .out_dir(&args.out)
        .runtime_crate(args.runtime)
        .include_file(false)
        .cargo_instructions(false)
        .allow_negative_field_ids(args.allow_neg_keys);
    for file in &args.files {
        builder = builder.file(file);
    }
    for dir in &args.include_dirs {
        builder = builder.include_dir(dir);
    }
    let generated = match builder.generate() {
        Ok(generated) => generated,
        Err(e) => return report(&e),
    };
    // On stderr, as Apache's compiler prints its warnings.
    for warning in &generated.warnings {
        eprintln!("{warning}");
    }
    match builder.write_generated(&generated) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

fn report(e: &tether::codegen::Error) -> ExitCode {
    eprintln!("{e}");
    if let Some(source) = std::error::Error::source(e) {
        if !matches!(e, tether::codegen::Error::Syntax(_)) {
            eprintln!("  caused by: {source}");
        }
    }
    ExitCode::FAILURE
}
