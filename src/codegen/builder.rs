//! The compiler's entry points: [`Builder`] for files on disk, [`generate_source`] for text.

use std::path::{Path, PathBuf};

use super::error::{Error, SyntaxError, Warning};
use super::{gen, model, parser};

/// Compiles IDL files to Rust. Configure, then [`Builder::generate`] or [`Builder::write`].
#[derive(Debug, Clone)]
pub struct Builder {
    files: Vec<PathBuf>,
    include_dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    runtime: String,
    rustfmt: bool,
    include_file: bool,
    cargo_instructions: bool,
    allow_negative_field_ids: bool,
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
            // A build script is where `write` runs most: cargo should rerun it when an IDL file
            // changes, and show the warnings.
            cargo_instructions: true,
            // Apache's compiler renumbers ids <= 0 unless given `--allow-neg-keys`; the same
            // default puts the same ids on the wire.
            allow_negative_field_ids: false,
        }
    }
}

/// One generated Rust module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The module's path from the root of the generated tree (`echo`, `transit::buses`).
    pub module: String,
    /// The file, relative to the output directory (`echo.rs`, `transit/buses.rs`).
    pub path: PathBuf,
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
    /// A `mod.rs` declaring every module (namespaces as inline modules around them).
    pub mod_rs: String,
    /// What the compiler accepted but warns about, as Apache's compiler does (renumbered field
    /// ids, fields without ids, a renamed module).
    pub warnings: Vec<Warning>,
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

    /// Sets whether [`Builder::write`] prints cargo build-script instructions: one
    /// `cargo:rerun-if-changed=` per IDL file it read (included files and those found through
    /// include directories too) and each warning as `cargo:warning=`. Defaults to true, for
    /// `build.rs`; tools that are not build scripts turn it off.
    pub fn cargo_instructions(mut self, enabled: bool) -> Self {
        self.cargo_instructions = enabled;
        self
    }

    /// Sets whether explicit field ids <= 0 are kept as written (Apache's `--allow-neg-keys`)
    /// rather than renumbered -1, -2, ... as if they had no id, with a warning. Either way the
    /// ids are those Apache's compiler gives the same IDL with the same choice. Defaults to
    /// false, as Apache's compiler.
    pub fn allow_negative_field_ids(mut self, enabled: bool) -> Self {
        self.allow_negative_field_ids = enabled;
        self
    }

    /// Parses, checks and generates, in memory.
    pub fn generate(&self) -> Result<Generated, Error> {
        let parse = model::ParseOptions {
            allow_negative_field_ids: self.allow_negative_field_ids,
        };
        let program = model::Program::load(&self.files, &self.include_dirs, parse)?;
        let options = gen::Options {
            runtime: self.runtime.clone(),
            rustfmt: self.rustfmt,
        };
        let files = (0..program.files.len())
            .map(|i| {
                let module = &program.files[i].module;
                let mut path: PathBuf = module.iter().collect();
                path.set_extension("rs");
                Ok(GeneratedFile {
                    module: module.join("::"),
                    path,
                    idl: program.files[i].path.clone(),
                    source: gen::generate_file(&program, i, &options)?,
                })
            })
            .collect::<Result<Vec<_>, SyntaxError>>()?;
        Ok(Generated {
            mod_rs: gen::generate_mod(&mod_entries(&files, None), false),
            files,
            warnings: program.warnings,
        })
    }

    /// Generates and writes one `.rs` file per IDL file (in directories per namespace),
    /// `mod.rs` (for a checked-in directory) and, unless turned off, `include.rs` (the same
    /// modules by absolute path, for `include!` from `OUT_DIR`); returns the paths written.
    /// Prints cargo instructions unless [`Builder::cargo_instructions`] is off.
    pub fn write(&self) -> Result<Vec<PathBuf>, Error> {
        self.write_generated(&self.generate()?)
    }

    /// Writes what [`Builder::generate`] returned, as [`Builder::write`] does; for a tool that
    /// looks at the result (its warnings) before writing it.
    pub fn write_generated(&self, generated: &Generated) -> Result<Vec<PathBuf>, Error> {
        if self.cargo_instructions {
            for line in generated.cargo_instructions() {
                println!("{line}");
            }
        }
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        let write = |path: PathBuf, text: &str| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Write {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, text)
                .map(|()| path.clone())
                .map_err(|source| Error::Write { path, source })
        };
        let mut written = Vec::new();
        for file in &generated.files {
            written.push(write(out_dir.join(&file.path), &file.source)?);
        }
        written.push(write(out_dir.join("mod.rs"), &generated.mod_rs)?);
        if !self.include_file {
            return Ok(written);
        }
        let absolute = out_dir.canonicalize().unwrap_or_else(|_| out_dir.clone());
        let include = gen::generate_mod(&mod_entries(&generated.files, Some(&absolute)), true);
        written.push(write(out_dir.join("include.rs"), &include)?);
        Ok(written)
    }
}

impl Generated {
    /// The lines a build script prints for this run: `cargo:rerun-if-changed=` for every IDL
    /// file read (included ones, and those found through include directories), then one
    /// `cargo:warning=` per warning. [`Builder::write`] prints them.
    pub fn cargo_instructions(&self) -> Vec<String> {
        let reruns = self
            .files
            .iter()
            .map(|f| format!("cargo:rerun-if-changed={}", f.idl.display()));
        let warnings = self.warnings.iter().map(|w| {
            format!(
                "cargo:warning={}:{}:{}: {}",
                w.path.display(),
                w.span.line,
                w.span.column,
                w.message
            )
        });
        reruns.chain(warnings).collect()
    }
}

/// What `mod.rs` (no `dir`) or `include.rs` (files by absolute path under `dir`) declares.
fn mod_entries(files: &[GeneratedFile], dir: Option<&Path>) -> Vec<gen::ModEntry> {
    files
        .iter()
        .map(|f| gen::ModEntry {
            module: f.module.split("::").map(str::to_string).collect(),
            idl_name: f
                .idl
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            absolute: dir.map(|d| d.join(&f.path)),
        })
        .collect()
}

/// Compiles IDL source text (as if read from `path`, which must have no includes) to the
/// source of one module; for tests and tools that hold IDL in memory.
pub fn generate_source(path: &Path, idl: &str, runtime: &str) -> Result<String, Error> {
    let document = parser::parse(idl, model::ParseOptions::default())
        .map_err(|(span, message)| SyntaxError::new(path.to_path_buf(), idl, span, message))?;
    let program = model::Program::from_document(path, idl, document)?;
    let options = gen::Options {
        runtime: runtime.to_string(),
        rustfmt: true,
    };
    Ok(gen::generate_file(&program, 0, &options)?)
}
