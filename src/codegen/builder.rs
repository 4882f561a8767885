//! The compiler's entry points: [`Builder`] for files on disk, [`generate_source`] for text.

use std::path::{Path, PathBuf};

use super::error::{Error, SyntaxError};
use super::{gen, model, names, parser};

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
