//! Loads IDL files with their includes and resolves names across them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ast::*;
use super::error::{Error, Span, SyntaxError, Warning};
use super::parser::parse;

/// Longest chain of typedefs (or constants naming constants) followed; far beyond real IDL,
/// well within the stack.
pub(crate) const MAX_CHAIN: usize = 64;

/// Every file to generate: the ones asked for and everything they include.
#[derive(Debug)]
pub(crate) struct Program {
    pub files: Vec<SourceFile>,
    /// What Apache's compiler would warn about too (renumbered field ids, ...), in file order.
    pub warnings: Vec<Warning>,
}

/// How to parse: the one choice Apache's compiler offers that changes the wire.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ParseOptions {
    /// Keep explicit field ids <= 0 as written (Apache's `--allow-neg-keys`) instead of
    /// renumbering them as if they had no id.
    pub allow_negative_field_ids: bool,
}

/// One parsed IDL file.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub source: String,
    /// The Rust module the file becomes, from the root of the generated tree:
    /// `["transit", "light", "streetcars"]`.
    pub module: Vec<String>,
    pub document: Document,
    /// Include prefix (the included file's stem) -> indexes in [`Program::files`], in include
    /// order: `a/common.thrift` and `b/common.thrift` share the prefix `common`.
    pub includes: HashMap<String, Vec<usize>>,
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
    Uuid,
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
    pub(crate) fn load(
        roots: &[PathBuf],
        include_dirs: &[PathBuf],
        options: ParseOptions,
    ) -> Result<Program, Error> {
        let mut program = Program {
            files: Vec::new(),
            warnings: Vec::new(),
        };
        let mut loader = Loader {
            include_dirs,
            options,
            by_path: HashMap::new(),
            stack: Vec::new(),
        };
        for root in roots {
            program.load_file(root, None, &mut loader)?;
        }
        program.assign_modules();
        Ok(program)
    }

    fn load_file(
        &mut self,
        path: &Path,
        included_from: Option<(usize, Span)>,
        loader: &mut Loader<'_>,
    ) -> Result<usize, Error> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(at) = loader.stack.iter().position(|(k, _)| *k == key) {
            let (file, span) = included_from.expect("a root is never on the stack");
            let mut cycle: Vec<String> = loader.stack[at..]
                .iter()
                .map(|(_, index)| self.files[*index].path.display().to_string())
                .collect();
            cycle.push(path.display().to_string());
            let message = format!("include cycle: {}", cycle.join(" -> "));
            return Err(self.error(file, span, message).into());
        }
        if let Some(&index) = loader.by_path.get(&key) {
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
        let document = parse(&source, loader.options).map_err(|(span, message)| {
            SyntaxError::new(path.to_path_buf(), &source, span, message)
        })?;
        let index = self.files.len();
        loader.by_path.insert(key.clone(), index);
        loader.stack.push((key, index));
        for (span, message) in &document.warnings {
            self.warnings.push(Warning::new(
                path.to_path_buf(),
                &source,
                *span,
                message.clone(),
            ));
        }
        let includes = document.includes.clone();
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            source,
            module: Vec::new(),
            document,
            includes: HashMap::new(),
        });
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        for (include, span) in includes {
            let candidates = std::iter::once(&dir).chain(loader.include_dirs);
            let found = candidates
                .map(|d| d.join(&include))
                .find(|p| p.is_file())
                .unwrap_or_else(|| dir.join(&include));
            let included = self.load_file(&found, Some((index, span)), loader)?;
            let prefix = file_stem(Path::new(&include));
            let same_prefix = self.files[index].includes.entry(prefix).or_default();
            if !same_prefix.contains(&included) {
                same_prefix.push(included);
            }
        }
        loader.stack.pop();
        Ok(index)
    }

    /// Gives every file its module path: its `rs` namespace's segments and then its file
    /// name, as Apache's Rust generator lays files out (Buses.thrift in `namespace rs transit`
    /// is `transit::buses`). A file named like its namespace's last segment that no other file
    /// sits under is that module itself (echo.thrift in `namespace rs echo` is `echo`, not
    /// `echo::echo`). Two files that would share a path (same file name, other directories)
    /// keep the first one's and `_2`, `_3`, ... on the others, with a warning.
    fn assign_modules(&mut self) {
        let full: Vec<Vec<String>> = self
            .files
            .iter()
            .map(|f| {
                let mut path: Vec<String> = match &f.document.rs_namespace {
                    Some(namespace) => namespace.split('.').map(module_segment).collect(),
                    None => Vec::new(),
                };
                path.push(module_segment(&super::names::snake_case(&file_stem(
                    &f.path,
                ))));
                path
            })
            .collect();
        let candidates: Vec<Vec<String>> = full
            .iter()
            .enumerate()
            .map(|(index, path)| {
                let mut module = path.clone();
                let n = module.len();
                if n >= 2 && module[n - 2] == module[n - 1] {
                    let parent = &module[..n - 1];
                    let others_under = full.iter().enumerate().any(|(other, p)| {
                        other != index && p.len() > parent.len() && p.starts_with(parent)
                    });
                    if !others_under {
                        module.pop();
                    }
                }
                module
            })
            .collect();
        // A namespace that holds files is an inline module; no file may take its name.
        let namespaces: Vec<&[String]> = candidates
            .iter()
            .flat_map(|c| (1..c.len()).map(move |n| &c[..n]))
            .collect();
        let mut taken: Vec<Vec<String>> = Vec::new();
        for (index, (path, candidate)) in full.iter().zip(&candidates).enumerate() {
            let mut module = candidate.clone();
            let clashes = |m: &Vec<String>, taken: &Vec<Vec<String>>| {
                taken.contains(m) || namespaces.contains(&m.as_slice())
            };
            if clashes(&module, &taken) {
                let base = module.last().cloned().unwrap_or_default();
                let mut n = 2;
                while clashes(&module, &taken) {
                    *module.last_mut().expect("a module path is never empty") =
                        format!("{base}_{n}");
                    n += 1;
                }
                let f = &self.files[index];
                let message = format!(
                    "another file already generates module `{}`; this one is `{}` \
                     (give it an `rs` namespace to choose)",
                    path.join("::"),
                    module.join("::")
                );
                self.warnings.push(Warning::new(
                    f.path.clone(),
                    &f.source,
                    Span { line: 1, column: 1 },
                    message,
                ));
            }
            taken.push(module.clone());
            self.files[index].module = module;
        }
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
        if let Some(included) = self.files[file].includes.get(head) {
            // Files sharing a prefix are searched in include order.
            if let Some(id) = included.iter().find_map(|&i| find(i, rest)) {
                return Some((id, None));
            }
            let (name, member) = rest.split_once('.')?;
            return included
                .iter()
                .find_map(|&i| find(i, name))
                .map(|id| (id, Some(member.to_string())));
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
            Type::Uuid => Resolved::Uuid,
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

/// One module path segment from a namespace part or file name: a Rust identifier, and a file
/// name (so `self` becomes `self_`, while `type` stays, declared as `r#type`).
fn module_segment(name: &str) -> String {
    let mut segment: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if segment.is_empty() || segment.starts_with(|c: char| c.is_ascii_digit()) {
        segment.insert(0, '_');
    }
    super::names::escape(&segment)
        .trim_start_matches("r#")
        .to_string()
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What loading needs beside the program: where to look, how to parse, what was read.
struct Loader<'a> {
    include_dirs: &'a [PathBuf],
    options: ParseOptions,
    /// Canonical path -> index in [`Program::files`], so a file included twice is read once.
    by_path: HashMap<PathBuf, usize>,
    /// The chain of files being loaded (canonical path, index), to name an include cycle.
    stack: Vec<(PathBuf, usize)>,
}

impl Program {
    /// A program of one already-parsed file with no includes.
    pub(crate) fn from_document(
        path: &Path,
        source: &str,
        document: Document,
    ) -> Result<Program, SyntaxError> {
        let mut program = Program {
            files: vec![SourceFile {
                path: path.to_path_buf(),
                source: source.to_string(),
                module: Vec::new(),
                includes: HashMap::new(),
                document,
            }],
            warnings: Vec::new(),
        };
        let file = &program.files[0];
        program.warnings = file
            .document
            .warnings
            .iter()
            .map(|(span, message)| Warning::new(path.to_path_buf(), source, *span, message.clone()))
            .collect();
        program.assign_modules();
        if let Some((_, span)) = program.files[0].document.includes.first() {
            return Err(program.error(0, *span, "includes need files on disk; use Builder"));
        }
        Ok(program)
    }
}
