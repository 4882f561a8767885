//! Splits IDL text into tokens, keeping doc comments for the token that follows them.

use super::error::Span;

/// One token of IDL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A name, possibly dotted (`other.Type`, `Color.RED`).
    Ident(String),
    /// An integer constant, decimal or hex.
    Int(i64),
    /// A floating-point constant.
    Double(f64),
    /// A quoted string, escapes resolved.
    Literal(String),
    /// One punctuation character: `{ } ( ) [ ] < > , ; : = * &`.
    Punct(char),
    /// The end of the input.
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected ..., found ..." messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("`{s}`"),
            TokenKind::Int(i) => format!("integer `{i}`"),
            TokenKind::Double(d) => format!("number `{d}`"),
            TokenKind::Literal(s) => format!("string {s:?}"),
            TokenKind::Punct(c) => format!("`{c}`"),
            TokenKind::Eof => "end of file".to_string(),
        }
    }
}

/// A token, where it starts, and the doc comment (`/** */` or `///`) right before it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
    pub doc: Option<String>,
}

/// A lexing failure: where and why.
pub(crate) type LexError = (Span, String);

/// Tokenizes `src`. The last token is always [`TokenKind::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer {
        chars: src.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    let mut doc = None;
    loop {
        lexer.skip_whitespace();
        let span = lexer.span();
        let Some(c) = lexer.peek(0) else {
            tokens.push(Token {
                kind: TokenKind::Eof,
                span,
                doc: None,
            });
            return Ok(tokens);
        };
        let kind = match c {
            '/' if lexer.peek(1) == Some('*') => {
                let (text, is_doc) = lexer.block_comment()?;
                doc = is_doc.then(|| clean_block_doc(&text));
                continue;
            }
            '/' if lexer.peek(1) == Some('/') => {
                let text = lexer.line_comment();
                if let Some(line) = text.strip_prefix("///") {
                    append_line_doc(&mut doc, line);
                } else {
                    doc = None;
                }
                continue;
            }
            '#' => {
                lexer.line_comment();
                doc = None;
                continue;
            }
            '"' | '\'' => TokenKind::Literal(lexer.literal(c)?),
            c if c.is_ascii_digit() => lexer.number()?,
            '+' | '-'
                if lexer
                    .peek(1)
                    .is_some_and(|d| d.is_ascii_digit() || d == '.') =>
            {
                lexer.number()?
            }
            '.' if lexer.peek(1).is_some_and(|d| d.is_ascii_digit()) => lexer.number()?,
            c if c.is_ascii_alphabetic() || c == '_' => TokenKind::Ident(lexer.ident()),
            '{' | '}' | '(' | ')' | '[' | ']' | '<' | '>' | ',' | ';' | ':' | '=' | '*' | '&' => {
                lexer.bump();
                TokenKind::Punct(c)
            }
            other => return Err((span, format!("unexpected character {other:?}"))),
        };
        tokens.push(Token {
            kind,
            span,
            doc: doc.take(),
        });
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    column: u32,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn line_comment(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            text.push(c);
            self.bump();
        }
        text
    }

    /// Reads `/* ... */`; returns the inner text and whether it is a doc comment (`/** `).
    fn block_comment(&mut self) -> Result<(String, bool), LexError> {
        let start = self.span();
        self.bump();
        self.bump();
        let is_doc = self.peek(0) == Some('*') && self.peek(1) != Some('/');
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err((start, "unterminated comment: `/*` without `*/`".into())),
                Some('*') if self.peek(0) == Some('/') => {
                    self.bump();
                    return Ok((text, is_doc));
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn literal(&mut self, quote: char) -> Result<String, LexError> {
        let start = self.span();
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err((start, "unterminated string literal".into())),
                Some(c) if c == quote => return Ok(text),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some(c @ ('\\' | '"' | '\'')) => c,
                        Some(c) => {
                            text.push('\\');
                            c
                        }
                        None => return Err((start, "unterminated string literal".into())),
                    };
                    text.push(escaped);
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn ident(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                text.push(c);
                self.bump();
            } else {
                break;
            }
        }
        text
    }

    fn number(&mut self) -> Result<TokenKind, LexError> {
        let start = self.span();
        let mut text = String::new();
        if let Some(sign @ ('+' | '-')) = self.peek(0) {
            text.push(sign);
            self.bump();
        }
        if self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let mut digits = String::new();
            while let Some(c) = self.peek(0).filter(char::is_ascii_hexdigit) {
                digits.push(c);
                self.bump();
            }
            let magnitude = u64::from_str_radix(&digits, 16)
                .map_err(|_| (start, format!("bad hex constant `0x{digits}`")))?;
            let value = if text == "-" {
                0i64.checked_sub_unsigned(magnitude)
            } else {
                i64::try_from(magnitude).ok()
            };
            return value.map(TokenKind::Int).ok_or((
                start,
                format!("integer constant `{text}0x{digits}` overflows i64"),
            ));
        }
        let mut is_double = false;
        while let Some(c) = self.peek(0) {
            let exponent_sign = matches!(c, '+' | '-') && text.ends_with(['e', 'E']);
            if c.is_ascii_digit() || exponent_sign {
                text.push(c);
            } else if c == '.' || c == 'e' || c == 'E' {
                is_double = true;
                text.push(c);
            } else {
                break;
            }
            self.bump();
        }
        if self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            return Err((
                self.span(),
                format!("unexpected character after number `{text}`"),
            ));
        }
        if is_double {
            text.parse()
                .map(TokenKind::Double)
                .map_err(|_| (start, format!("bad number `{text}`")))
        } else {
            text.parse()
                .map(TokenKind::Int)
                .map_err(|_| (start, format!("integer constant `{text}` overflows i64")))
        }
    }
}

/// Strips the ` * ` margin of a `/** */` comment and the blank lines around it.
fn clean_block_doc(text: &str) -> String {
    let text = text.strip_prefix('*').unwrap_or(text);
    let lines: Vec<&str> = text
        .lines()
        .map(|line| {
            let line = line.trim();
            let line = line.strip_prefix('*').unwrap_or(line);
            line.strip_prefix(' ').unwrap_or(line).trim_end()
        })
        .collect();
    let first = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let last = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(first, |i| i + 1);
    lines[first..last].join("\n")
}

fn append_line_doc(doc: &mut Option<String>, line: &str) {
    let line = line.strip_prefix(' ').unwrap_or(line).trim_end();
    match doc {
        Some(text) => {
            text.push('\n');
            text.push_str(line);
        }
        None => *doc = Some(line.to_string()),
    }
}
