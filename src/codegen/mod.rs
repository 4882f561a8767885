//! The IDL compiler: Thrift IDL in, Rust out (types, handler traits, processors, clients).
//!
//! Each IDL file becomes one module (named after its `namespace rs`, else after the file), and
//! a `mod.rs` declares them all, so `other.Type` in IDL is `super::other::Type` in Rust.
//!
//! From a `build.rs`:
//!
//! ```no_run
//! // build.rs
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("idl");
//! tether::codegen::Builder::new()
//!     .file("idl/shop.thrift")
//!     .out_dir(&out)
//!     .write()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! println!("cargo:rerun-if-changed=idl");
//! ```
//!
//! and in the crate (`include.rs` declares every generated module by its absolute path):
//!
//! ```ignore
//! pub mod idl {
//!     include!(concat!(env!("OUT_DIR"), "/idl/include.rs"));
//! }
//! ```
//!
//! Or straight from text, one file without includes:
//!
//! ```
//! use std::path::Path;
//!
//! let idl = r#"
//!     /** A greeting. */
//!     struct Hello { 1: required string name, 2: optional i32 times }
//!     service Greeter { Hello greet(1: string name) }
//! "#;
//! let rust = tether::codegen::generate_source(Path::new("hello.thrift"), idl, "::tether")?;
//! assert!(rust.contains("pub struct Hello {"));
//! assert!(rust.contains("pub times: Option<i32>,"));
//! assert!(rust.contains("pub trait GreeterHandler: Send + Sync + 'static {"));
//! # Ok::<(), tether::codegen::Error>(())
//! ```
//!
//! What the generated code looks like, for a service `Echo`:
//! - `EchoHandler`: a trait with one method per IDL method, taking `&self`, the
//!   [`CallContext`](crate::server::CallContext) and the arguments, returning
//!   `Result<T, ApplicationException>`, or `Result<T, EchoMethodError>` when the method
//!   declares exceptions (an enum of them plus `Application` and `Client`);
//! - `EchoProcessor<H>`: a [`Processor`](crate::server::Processor) dispatching to a handler;
//! - `EchoClient<C>`: methods that call over any [`Channel`](crate::client::Channel).
//!
//! Structs derive `Debug, Clone, PartialEq` (`Eq, Hash, PartialOrd, Ord` when no double is in
//! them, `Default` when every field has one); optional fields are `Option`; sets and maps are
//! `BTreeSet` and `BTreeMap` so encodings are deterministic (a `double` element or key is an
//! [`OrderedF64`]). Enums are `i32` newtypes with an
//! associated constant per value, so values from newer peers survive. Unions are Rust enums.

mod ast;
mod error;
mod gen;
mod lexer;
mod model;
mod names;
mod ordered_f64;
mod parser;

use std::path::{Path, PathBuf};

pub use error::{Error, Span, SyntaxError};
pub use ordered_f64::OrderedF64;

/// Compiles IDL files to Rust. Configure, then [`Builder::generate`] or [`Builder::write`].
#[derive(Debug, Clone)]
pub struct Builder {
    files: Vec<PathBuf>,
    include_dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    runtime: String,
    rustfmt: bool,
    include_file: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            files: Vec::new(),
            include_dirs: Vec::new(),
            out_dir: None,
            runtime: "::tether".to_string(),
            rustfmt: true,
            include_file: true,
        }
    }
}

/// One generated Rust module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The module name (`echo`); the file is `<module>.rs`.
    pub module: String,
    /// The IDL file it came from.
    pub idl: PathBuf,
    /// The Rust source.
    pub source: String,
}

/// Everything one run generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// One module per IDL file, the requested ones and those they include.
    pub files: Vec<GeneratedFile>,
    /// A `mod.rs` declaring every module.
    pub mod_rs: String,
}

impl Builder {
    /// A builder with no files.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds an IDL file to compile (files it includes are compiled too).
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Adds a directory to search for `include`d files after the including file's own.
    /// Defaults to none.
    pub fn include_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.include_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Sets where [`Builder::write`] puts the files. Defaults to `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Sets the path generated code uses for the tether crate. Defaults to `::tether`
    /// (tether's own services use `crate`).
    pub fn runtime_crate(mut self, path: impl Into<String>) -> Self {
        self.runtime = path.into();
        self
    }

    /// Sets whether the output goes through `rustfmt` (when installed) after prettyplease.
    /// Defaults to true.
    pub fn rustfmt(mut self, enabled: bool) -> Self {
        self.rustfmt = enabled;
        self
    }

    /// Sets whether [`Builder::write`] also writes `include.rs`, which declares the modules by
    /// absolute path for `include!` from `OUT_DIR` (a checked-in directory wants only
    /// `mod.rs`). Defaults to true.
    pub fn include_file(mut self, enabled: bool) -> Self {
        self.include_file = enabled;
        self
    }

    /// Parses, checks and generates, in memory.
    pub fn generate(&self) -> Result<Generated, Error> {
        let program = model::Program::load(&self.files, &self.include_dirs)?;
        let options = gen::Options {
            runtime: self.runtime.clone(),
            rustfmt: self.rustfmt,
        };
        let files = (0..program.files.len())
            .map(|i| {
                Ok(GeneratedFile {
                    module: program.files[i].module.clone(),
                    idl: program.files[i].path.clone(),
                    source: gen::generate_file(&program, i, &options)?,
                })
            })
            .collect::<Result<Vec<_>, SyntaxError>>()?;
        Ok(Generated {
            files,
            mod_rs: gen::generate_mod(&program),
        })
    }

    /// Generates and writes `<module>.rs` per IDL file, `mod.rs` (for a checked-in directory)
    /// and, unless turned off, `include.rs` (the same modules by absolute path, for `include!`
    /// from `OUT_DIR`); returns the paths written.
    pub fn write(&self) -> Result<Vec<PathBuf>, Error> {
        let generated = self.generate()?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text)
                .map(|()| path.clone())
                .map_err(|source| Error::Write { path, source })
        };
        std::fs::create_dir_all(&out_dir).map_err(|source| Error::Write {
            path: out_dir.clone(),
            source,
        })?;
        let mut written = Vec::new();
        for file in &generated.files {
            written.push(write(
                out_dir.join(format!("{}.rs", file.module)),
                &file.source,
            )?);
        }
        written.push(write(out_dir.join("mod.rs"), &generated.mod_rs)?);
        if !self.include_file {
            return Ok(written);
        }
        let absolute = out_dir.canonicalize().unwrap_or_else(|_| out_dir.clone());
        let mut include = String::from("// Generated by `tether gen`: include!() this file.\n");
        for file in &generated.files {
            let path = absolute.join(format!("{}.rs", file.module));
            include.push_str(&format!(
                "#[path = {:?}]\npub mod {};\n",
                path.display().to_string(),
                names::escape(&file.module)
            ));
        }
        written.push(write(out_dir.join("include.rs"), &include)?);
        Ok(written)
    }
}

/// Compiles IDL source text (as if read from `path`, which must have no includes) to the
/// source of one module; for tests and tools that hold IDL in memory.
pub fn generate_source(path: &Path, idl: &str, runtime: &str) -> Result<String, Error> {
    let document = parser::parse(idl)
        .map_err(|(span, message)| SyntaxError::new(path.to_path_buf(), idl, span, message))?;
    let program = model::Program::from_document(path, idl, document)?;
    let options = gen::Options {
        runtime: runtime.to_string(),
        rustfmt: true,
    };
    Ok(gen::generate_file(&program, 0, &options)?)
}
