//! IDL names to Rust names: snake_case fields and methods, CamelCase variants, keyword escapes.

/// Words Rust reserves; a field named one of them gets `r#` (or a trailing `_` where `r#` is
/// not allowed).
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield",
    "try", "async", "await", "dyn", "gen",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// `userId`, `UserID`, `user_id` -> `user_id`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `user_id`, `userId` -> `UserId`.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// `Red`, `DARK_RED`, `darkRed` -> `RED`, `DARK_RED`, `DARK_RED`.
pub(crate) fn upper_snake_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

/// Rust field names for a struct's IDL field names, in order: snake_case, or on a clash the
/// IDL name itself, then with `_` appended until unique (`theEdgeCase`, `TheEdgeCase`).
pub(crate) fn field_names<'a>(idl: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    unique(idl, snake_case)
}

/// Rust variant names for IDL field names: CamelCase, deduplicated like [`field_names`].
pub(crate) fn variant_names<'a>(idl: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    unique(idl, camel_case)
}

fn unique<'a>(idl: impl IntoIterator<Item = &'a str>, convert: fn(&str) -> String) -> Vec<String> {
    let mut taken: Vec<String> = Vec::new();
    for name in idl {
        let mut candidate = convert(name);
        if taken.contains(&candidate) {
            candidate = escape(name).trim_start_matches("r#").to_string();
        }
        while taken.contains(&candidate) {
            candidate.push('_');
        }
        taken.push(candidate);
    }
    taken
}

/// A string usable as a Rust identifier for `name`: raw when it is a keyword.
pub(crate) fn escape(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// A Rust identifier token for `name`.
pub(crate) fn ident(name: &str) -> proc_macro2::Ident {
    let escaped = escape(name);
    match escaped.strip_prefix("r#") {
        Some(raw) => proc_macro2::Ident::new_raw(raw, proc_macro2::Span::call_site()),
        None => proc_macro2::Ident::new(&escaped, proc_macro2::Span::call_site()),
    }
}

/// The field or argument identifier for an IDL field name.
pub(crate) fn field_ident(name: &str) -> proc_macro2::Ident {
    ident(&snake_case(name))
}

/// Names generated code uses unqualified (the prelude, its imports, `std`); an IDL type or
/// constant with one of them gets a trailing `_` so it cannot shadow them.
const RESERVED_TYPES: &[&str] = &[
    "Result",
    "Option",
    "Some",
    "None",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Box",
    "Default",
    "Send",
    "Sync",
    "Sized",
    "From",
    "LazyLock",
    "BTreeMap",
    "BTreeSet",
    "OrderedF64",
    "client",
    "protocol",
    "server",
    "std",
    // The module's helper functions.
    "write_reply",
    "missing_result",
];

/// A type, constant or variant identifier, kept as the IDL spells it (escaped if it is a
/// keyword, `_` added if it would shadow a name generated code relies on).
pub(crate) fn type_ident(name: &str) -> proc_macro2::Ident {
    if RESERVED_TYPES.contains(&name) {
        ident(&format!("{name}_"))
    } else {
        ident(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words() {
        assert_eq!(snake_case("userId"), "user_id");
        assert_eq!(snake_case("UserID"), "user_id");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("i32_thing"), "i32_thing");
    }

    #[test]
    fn camel_case_joins_words() {
        assert_eq!(camel_case("user_id"), "UserId");
        assert_eq!(camel_case("err"), "Err");
        assert_eq!(camel_case("_1"), "V1");
    }

    #[test]
    fn clashing_names_stay_apart() {
        assert_eq!(
            field_names([
                "theEdgeCase",
                "theEdgeCase_",
                "TheEdgeCase",
                "the_edge_case"
            ]),
            [
                "the_edge_case",
                "the_edge_case_",
                "TheEdgeCase",
                "the_edge_case__"
            ]
        );
        assert_eq!(variant_names(["tricky", "Tricky"]), ["Tricky", "Tricky_"]);
    }

    #[test]
    fn prelude_names_are_not_shadowed() {
        assert_eq!(type_ident("Result").to_string(), "Result_");
        assert_eq!(type_ident("Results").to_string(), "Results");
        for name in ["Send", "Sync", "From"] {
            assert_eq!(type_ident(name).to_string(), format!("{name}_"));
        }
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(escape("type"), "r#type");
        assert_eq!(escape("self"), "self_");
        assert_eq!(field_ident("type").to_string(), "r#type");
    }
}
