//! Errors of the IDL compiler, pointing at the offending place in the source.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A place in an IDL file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// Why IDL could not be compiled.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An IDL file (or one it includes) could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The IDL is malformed or refers to something that does not exist.
    Syntax(SyntaxError),
    /// A generated file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

/// A mistake in an IDL file, with the line it is on and a caret under the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The file the mistake is in.
    pub path: PathBuf,
    /// Where in the file.
    pub span: Span,
    /// The text of the offending line.
    pub line_text: String,
    /// What was wrong, and what was expected.
    pub message: String,
}

impl SyntaxError {
    /// An error at `span` of `source` (the file's text, for the offending line).
    pub(crate) fn new(path: PathBuf, source: &str, span: Span, message: String) -> Self {
        let line_text = source
            .lines()
            .nth(span.line.saturating_sub(1) as usize)
            .unwrap_or("")
            .to_string();
        SyntaxError {
            path,
            span,
            line_text,
            message,
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(
            f,
            "error",
            &self.message,
            &self.path,
            self.span,
            &self.line_text,
        )
    }
}

/// Something the IDL compiler accepted but that deserves a look, as Apache's compiler warns
/// about it too (a field id it renumbered, a module it had to rename).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file it is about.
    pub path: PathBuf,
    /// Where in the file.
    pub span: Span,
    /// The text of the line.
    pub line_text: String,
    /// What happened.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(path: PathBuf, source: &str, span: Span, message: String) -> Self {
        let e = SyntaxError::new(path, source, span, message);
        Warning {
            path: e.path,
            span: e.span,
            line_text: e.line_text,
            message: e.message,
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(
            f,
            "warning",
            &self.message,
            &self.path,
            self.span,
            &self.line_text,
        )
    }
}

/// `level: message`, the place, and the line with a caret under the column.
fn render(
    f: &mut fmt::Formatter<'_>,
    level: &str,
    message: &str,
    path: &std::path::Path,
    span: Span,
    line_text: &str,
) -> fmt::Result {
    let line_no = span.line.to_string();
    let pad = " ".repeat(line_no.len());
    // Tabs are kept so the caret lines up under them.
    let indent: String = line_text
        .chars()
        .take(span.column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    writeln!(f, "{level}: {message}")?;
    writeln!(
        f,
        "{pad}--> {}:{}:{}",
        path.display(),
        span.line,
        span.column
    )?;
    writeln!(f, "{pad} |")?;
    writeln!(f, "{line_no} | {line_text}")?;
    write!(f, "{pad} | {indent}^")
}

impl std::error::Error for SyntaxError {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, .. } => write!(f, "cannot read {}", path.display()),
            Error::Syntax(e) => e.fmt(f),
            Error::Write { path, .. } => write!(f, "cannot write {}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => Some(source),
            Error::Syntax(e) => Some(e),
        }
    }
}

impl From<SyntaxError> for Error {
    fn from(e: SyntaxError) -> Self {
        Error::Syntax(e)
    }
}
