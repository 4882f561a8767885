//! Loads IDL files with their includes and resolves names across them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ast::*;
use super::error::{Error, Span, SyntaxError};
use super::parser::parse;

/// Longest chain of typedefs (or constants naming constants) followed; far beyond real IDL,
/// well within the stack.
pub(crate) const MAX_CHAIN: usize = 64;

/// Every file to generate: the ones asked for and everything they include.
#[derive(Debug)]
pub(crate) struct Program {
    pub files: Vec<SourceFile>,
}

/// One parsed IDL file.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub source: String,
    /// The Rust module the file becomes.
    pub module: String,
    pub document: Document,
    /// Include prefix (the included file's stem) -> index in [`Program::files`].
    pub includes: HashMap<String, usize>,
}

/// A definition somewhere in the program: file index and position in its definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DefId {
    pub file: usize,
    pub index: usize,
}

/// A type with every name resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    String,
    Binary,
    List(Box<Resolved>),
    Set(Box<Resolved>),
    Map(Box<Resolved>, Box<Resolved>),
    Enum(DefId),
    Struct(DefId),
    /// A typedef and what it stands for.
    Typedef(DefId, Box<Resolved>),
}

impl Resolved {
    /// The type behind any typedefs.
    pub(crate) fn target(&self) -> &Resolved {
        match self {
            Resolved::Typedef(_, target) => target.target(),
            other => other,
        }
    }
}

impl Program {
    /// Reads `roots` and, transitively, the files they include.
    pub(crate) fn load(roots: &[PathBuf], include_dirs: &[PathBuf]) -> Result<Program, Error> {
        let mut program = Program { files: Vec::new() };
        let mut by_path: HashMap<PathBuf, usize> = HashMap::new();
        for root in roots {
            program.load_file(root, None, include_dirs, &mut by_path)?;
        }
        Ok(program)
    }

    fn load_file(
        &mut self,
        path: &Path,
        included_from: Option<(usize, Span)>,
        include_dirs: &[PathBuf],
        by_path: &mut HashMap<PathBuf, usize>,
    ) -> Result<usize, Error> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(&index) = by_path.get(&key) {
            return Ok(index);
        }
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(source) => {
                return Err(match included_from {
                    Some((file, span)) => self
                        .error(
                            file,
                            span,
                            format!("cannot read included file {}: {source}", path.display()),
                        )
                        .into(),
                    None => Error::Read {
                        path: path.to_path_buf(),
                        source,
                    },
                })
            }
        };
        let document = parse(&source).map_err(|(span, message)| {
            SyntaxError::new(path.to_path_buf(), &source, span, message)
        })?;
        let module = module_name(&document, path);
        let index = self.files.len();
        by_path.insert(key, index);
        let includes = document.includes.clone();
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            source,
            module,
            document,
            includes: HashMap::new(),
        });
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        for (include, span) in includes {
            let candidates = std::iter::once(&dir).chain(include_dirs);
            let found = candidates
                .map(|d| d.join(&include))
                .find(|p| p.is_file())
                .unwrap_or_else(|| dir.join(&include));
            let included = self.load_file(&found, Some((index, span)), include_dirs, by_path)?;
            let prefix = file_stem(Path::new(&include));
            self.files[index].includes.insert(prefix, included);
        }
        if let Some(clash) = self.files[..index]
            .iter()
            .find(|f| f.module == self.files[index].module)
        {
            let message = format!(
                "module `{}` would be generated twice (also from {}); give one an `rs` namespace",
                clash.module,
                clash.path.display()
            );
            return Err(self
                .error(index, Span { line: 1, column: 1 }, message)
                .into());
        }
        Ok(index)
    }

    /// An error at `span` in file `file`.
    pub(crate) fn error(&self, file: usize, span: Span, message: impl Into<String>) -> SyntaxError {
        let f = &self.files[file];
        SyntaxError::new(f.path.clone(), &f.source, span, message.into())
    }

    pub(crate) fn definition(&self, id: DefId) -> &Definition {
        &self.files[id.file].document.definitions[id.index]
    }

    /// Finds `name` (maybe `other.Name`) as seen from `file`; returns the definition and, for a
    /// dotted name that is not an include prefix, the rest after the first matching part
    /// (`Color.RED` -> (Color, Some("RED"))).
    pub(crate) fn lookup(&self, file: usize, name: &str) -> Option<(DefId, Option<String>)> {
        let find = |file: usize, name: &str| {
            self.files[file]
                .document
                .definitions
                .iter()
                .position(|d| d.name() == name)
                .map(|index| DefId { file, index })
        };
        if let Some(id) = find(file, name) {
            return Some((id, None));
        }
        let (head, rest) = name.split_once('.')?;
        if let Some(&included) = self.files[file].includes.get(head) {
            if let Some(id) = find(included, rest) {
                return Some((id, None));
            }
            let (name, member) = rest.split_once('.')?;
            return find(included, name).map(|id| (id, Some(member.to_string())));
        }
        find(file, head).map(|id| (id, Some(rest.to_string())))
    }

    /// Resolves a type written in file `file`.
    pub(crate) fn resolve(&self, file: usize, ty: &Type) -> Result<Resolved, SyntaxError> {
        self.resolve_guarded(file, ty, &mut Vec::new())
    }

    fn resolve_guarded(
        &self,
        file: usize,
        ty: &Type,
        typedefs: &mut Vec<DefId>,
    ) -> Result<Resolved, SyntaxError> {
        let boxed = |r: Resolved| Box::new(r);
        Ok(match ty {
            Type::Bool => Resolved::Bool,
            Type::Byte => Resolved::Byte,
            Type::I16 => Resolved::I16,
            Type::I32 => Resolved::I32,
            Type::I64 => Resolved::I64,
            Type::Double => Resolved::Double,
            Type::String => Resolved::String,
            Type::Binary => Resolved::Binary,
            Type::List(t) => Resolved::List(boxed(self.resolve_guarded(file, t, typedefs)?)),
            Type::Set(t) => Resolved::Set(boxed(self.resolve_guarded(file, t, typedefs)?)),
            Type::Map(k, v) => Resolved::Map(
                boxed(self.resolve_guarded(file, k, typedefs)?),
                boxed(self.resolve_guarded(file, v, typedefs)?),
            ),
            Type::Named(name, span) => {
                let Some((id, None)) = self.lookup(file, name) else {
                    return Err(self.error(file, *span, format!("unknown type `{name}`")));
                };
                match self.definition(id) {
                    Definition::Enum(_) => Resolved::Enum(id),
                    Definition::Struct(_) => Resolved::Struct(id),
                    Definition::Typedef { ty, .. } => {
                        if typedefs.len() >= MAX_CHAIN {
                            return Err(self.error(
                                file,
                                *span,
                                format!("typedef chain longer than {MAX_CHAIN}"),
                            ));
                        }
                        if typedefs.contains(&id) {
                            return Err(self.error(
                                file,
                                *span,
                                format!("typedef `{name}` refers to itself"),
                            ));
                        }
                        typedefs.push(id);
                        let target = self.resolve_guarded(id.file, ty, typedefs)?;
                        typedefs.pop();
                        Resolved::Typedef(id, boxed(target))
                    }
                    Definition::Const { .. } | Definition::Service(_) => {
                        return Err(self.error(file, *span, format!("`{name}` is not a type")))
                    }
                }
            }
        })
    }

    /// The struct, union or exception `id` names.
    pub(crate) fn strukt(&self, id: DefId) -> &Struct {
        match self.definition(id) {
            Definition::Struct(s) => s,
            _ => unreachable!("DefId of a struct resolved from Resolved::Struct"),
        }
    }

    /// Whether values of `ty` hold a double anywhere (then they are not `Eq`, `Hash` or `Ord`).
    pub(crate) fn has_float(&self, ty: &Resolved) -> bool {
        self.has_float_guarded(ty, &mut Vec::new())
    }

    fn has_float_guarded(&self, ty: &Resolved, seen: &mut Vec<DefId>) -> bool {
        match ty {
            Resolved::Double => true,
            Resolved::List(t) | Resolved::Set(t) => self.has_float_guarded(t, seen),
            Resolved::Map(k, v) => {
                self.has_float_guarded(k, seen) || self.has_float_guarded(v, seen)
            }
            Resolved::Typedef(_, t) => self.has_float_guarded(t, seen),
            Resolved::Struct(id) => {
                if seen.contains(id) {
                    return false;
                }
                seen.push(*id);
                let s = self.strukt(*id);
                s.fields.iter().any(|f| {
                    self.resolve(id.file, &f.ty)
                        .is_ok_and(|t| self.has_float_guarded(&t, seen))
                })
            }
            _ => false,
        }
    }

    /// Whether a field of type `ty` must be boxed: the type holds `owner` by value (directly or
    /// through other structs' fields, `Option` included, but not through containers).
    pub(crate) fn holds_by_value(&self, ty: &Resolved, owner: DefId) -> bool {
        self.holds_guarded(ty, owner, &mut Vec::new())
    }

    fn holds_guarded(&self, ty: &Resolved, owner: DefId, seen: &mut Vec<DefId>) -> bool {
        match ty.target() {
            Resolved::Struct(id) => {
                if *id == owner {
                    return true;
                }
                if seen.contains(id) {
                    return false;
                }
                seen.push(*id);
                let s = self.strukt(*id);
                s.fields.iter().any(|f| {
                    self.resolve(id.file, &f.ty)
                        .is_ok_and(|t| self.holds_guarded(&t, owner, seen))
                })
            }
            _ => false,
        }
    }
}

/// The module a file becomes: its `rs` namespace, else its file name, as a Rust identifier.
fn module_name(document: &Document, path: &Path) -> String {
    let name = match &document.rs_namespace {
        Some(namespace) => namespace.clone(),
        None => super::names::snake_case(&file_stem(path)),
    };
    let mut module: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if module.is_empty() || module.starts_with(|c: char| c.is_ascii_digit()) {
        module.insert(0, '_');
    }
    module
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Program {
    /// A program of one already-parsed file with no includes.
    pub(crate) fn from_document(
        path: &Path,
        source: &str,
        document: Document,
    ) -> Result<Program, SyntaxError> {
        let program = Program {
            files: vec![SourceFile {
                path: path.to_path_buf(),
                source: source.to_string(),
                module: module_name(&document, path),
                includes: HashMap::new(),
                document,
            }],
        };
        if let Some((_, span)) = program.files[0].document.includes.first() {
            return Err(program.error(0, *span, "includes need files on disk; use Builder"));
        }
        Ok(program)
    }
}
