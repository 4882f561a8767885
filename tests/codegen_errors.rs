//! Malformed IDL gives an error naming file:line:column with the line and a caret, and never
//! a panic.

use std::path::Path;

use proptest::prelude::*;
use tether::codegen::{generate_source, Builder, Error};

fn error_of(idl: &str) -> tether::codegen::SyntaxError {
    match generate_source(Path::new("bad.thrift"), idl, "::tether") {
        Err(Error::Syntax(e)) => e,
        Err(other) => panic!("expected a syntax error, got {other}"),
        Ok(_) => panic!("expected an error for:\n{idl}"),
    }
}

/// (what, IDL, part of the message, line, column)
const CORPUS: &[(&str, &str, &str, u32, u32)] = &[
    ("unterminated string", "const string S = \"abc\n", "unterminated string", 1, 18),
    ("unterminated comment", "struct A {}\n/* never closed", "unterminated comment", 2, 1),
    ("unterminated doc comment", "/** doc", "unterminated comment", 1, 1),
    ("duplicate field id", "struct A {\n  1: i32 a\n  1: i32 b\n}", "duplicate field id 1", 3, 10),
    ("duplicate field name", "struct A {\n  1: i32 a\n  2: i32 a\n}", "duplicate field name", 3, 10),
    ("unknown type", "struct A {\n  1: Missing m\n}", "unknown type `Missing`", 2, 6),
    ("unknown included type", "struct A { 1: other.T t }", "unknown type `other.T`", 1, 15),
    ("recursive typedef", "typedef B A\ntypedef A B\nstruct S { 1: A a }", "refers to itself", 1, 9),
    ("self typedef", "typedef T T", "refers to itself", 1, 9),
    ("string for int", "const i32 X = \"no\"", "expected an integer", 1, 15),
    ("bad uuid", "const uuid U = \"not-a-uuid\"", "expected a uuid string", 1, 16),
    ("int for uuid", "const uuid U = 7", "expected a quoted uuid string", 1, 16),
    ("int out of range", "const byte X = 300", "expected an integer in range", 1, 16),
    ("i64 overflow", "const i64 X = 99999999999999999999", "overflows i64", 1, 15),
    ("unknown constant", "const i32 X = Y", "unknown constant `Y`", 1, 15),
    ("self constant", "const i32 X = X", "refers to itself", 1, 15),
    ("unknown enum value", "enum E { A }\nconst E X = E.B", "has no value `B`", 2, 13),
    ("list for map", "const map<i32,i32> M = [1]", "expected a map", 1, 24),
    ("bad struct literal", "struct P { 1: i32 x }\nconst P C = {\"y\": 1}", "has no field `y`", 2, 14),
    ("bad default", "struct P { 1: i32 x = \"s\" }", "expected an integer", 1, 23),
    ("missing brace", "struct A {\n  1: i32 a\n", "expected", 3, 1),
    ("missing field name", "struct A { 1: i32 }", "expected a field name, found `}`", 1, 19),
    ("stray token", "struct A {} }", "expected a definition", 1, 13),
    ("bad character", "struct A { 1: i32 a @ }", "unexpected character '@'", 1, 21),
    ("field id too big", "struct A { 70000: i32 a }", "does not fit in i16", 1, 12),
    ("enum value too big", "enum E { A = 5000000000 }", "does not fit in i32", 1, 10),
    ("duplicate definition", "struct A {}\nenum A { X }", "defined twice", 2, 6),
    ("void field", "struct A { 1: void v }", "only allowed as a method's return type", 1, 15),
    ("oneway returns", "service S { oneway i32 f() }", "must return void", 1, 24),
    ("throws non-exception", "struct E {}\nservice S { void f() throws (1: E e) }", "not an exception", 2, 35),
    ("unknown parent", "service S extends T {}", "unknown service `T`", 1, 19),
    ("extends a struct", "struct T {}\nservice S extends T {}", "is not a service", 2, 19),
    ("service as type", "service S {}\nstruct A { 1: S s }", "is not a type", 2, 15),
    ("double set", "struct A { 1: set<list<double>> s }", "not supported", 1, 33),
    ("double map key", "typedef map<list<double>, i32> M", "not supported", 1, 32),
    ("senum", "senum S { \"a\" }", "obsolete", 1, 1),
    ("include without file", "include \"nowhere.thrift\"", "includes need files on disk", 1, 1),
    ("deep nesting", "const list<i32> X = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]", "nested more than", 1, 121),
    ("bad hex", "const i32 X = 0xZZ", "bad hex constant", 1, 15),
    ("number then letters", "const i32 X = 12ab", "unexpected character after number", 1, 17),
];

#[test]
fn malformed_idl_gives_located_errors() {
    let mut failures = Vec::new();
    for (what, idl, message, line, column) in CORPUS {
        let e = error_of(idl);
        if !e.message.contains(message) || (e.span.line, e.span.column) != (*line, *column) {
            failures.push(format!(
                "{what}: got {}:{} {:?}, expected {line}:{column} containing {message:?}",
                e.span.line, e.span.column, e.message
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_display_shows_the_line_and_a_caret() {
    let e = error_of("struct A {\n  1: i32 a\n  1: string b\n}\n");
    let shown = e.to_string();
    assert_eq!(
        shown,
        "error: duplicate field id 1 (`a` and `b`)\n --> bad.thrift:3:13\n  |\n3 |   1: string b\n  |             ^"
    );
}

#[test]
fn missing_files_are_reported() {
    let dir = std::env::temp_dir().join(format!("tether-codegen-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let main = dir.join("main.thrift");
    std::fs::write(&main, "include \"gone.thrift\"\nstruct A {}\n").unwrap();
    match Builder::new().file(&main).generate() {
        Err(Error::Syntax(e)) => {
            assert!(e.message.contains("cannot read included file"), "{e}");
            assert_eq!((e.span.line, e.span.column), (1, 1));
        }
        other => panic!("expected an include error, got {other:?}"),
    }
    assert!(matches!(
        Builder::new().file(dir.join("absent.thrift")).generate(),
        Err(Error::Read { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn never_panics(idl: &str) {
    let _ = generate_source(Path::new("fuzz.thrift"), idl, "::tether");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(idl in "\\PC{0,200}") {
        never_panics(&idl);
    }

    #[test]
    fn idl_shaped_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("struct"), Just("union"), Just("enum"), Just("service"), Just("const"),
                Just("typedef"), Just("exception"), Just("extends"), Just("throws"),
                Just("oneway"), Just("void"), Just("required"), Just("optional"), Just("list<"),
                Just("map<"), Just("set<"), Just(">"), Just("{"), Just("}"), Just("("), Just(")"),
                Just("["), Just("]"), Just(","), Just(";"), Just(":"), Just("="), Just("1"),
                Just("-2"), Just("0x7f"), Just("3.5"), Just("\"s\""), Just("A"), Just("B"),
                Just("A.B"), Just("i32"), Just("string"), Just("double"), Just("binary"),
                Just("/**d*/"), Just("#c\n"), Just("\n"), Just("type"), Just("self"),
            ],
            0..40,
        )
    ) {
        never_panics(&parts.join(" "));
    }

    /// Valid IDL with one character deleted.
    #[test]
    fn truncated_kitchen_sink_never_panics(cut in 0usize..4000) {
        let idl = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen/kitchen_sink.thrift"),
        ).unwrap();
        let idl = idl.replace("include \"shared.thrift\"", "");
        let cut = cut.min(idl.len());
        if idl.is_char_boundary(cut) && idl.is_char_boundary((cut + 1).min(idl.len())) {
            let mut mutated = idl.clone();
            mutated.replace_range(cut..(cut + 1).min(idl.len()), "");
            never_panics(&mutated);
            never_panics(&idl[..cut]);
        }
    }
}

/// A fresh directory under the system's temp dir for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tether-codegen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_include_cycle_is_an_error_naming_the_cycle() {
    let dir = scratch("cycle");
    std::fs::write(dir.join("a.thrift"), "include \"b.thrift\"\nstruct A {}\n").unwrap();
    std::fs::write(dir.join("b.thrift"), "include \"c.thrift\"\nstruct B {}\n").unwrap();
    std::fs::write(
        dir.join("c.thrift"),
        "\ninclude \"a.thrift\"\nstruct C {}\n",
    )
    .unwrap();
    match Builder::new().file(dir.join("a.thrift")).generate() {
        Err(Error::Syntax(e)) => {
            let names: Vec<&str> = e
                .message
                .trim_start_matches("include cycle: ")
                .split(" -> ")
                .map(|p| p.rsplit('/').next().unwrap())
                .collect();
            assert_eq!(
                names,
                ["a.thrift", "b.thrift", "c.thrift", "a.thrift"],
                "{e}"
            );
            assert!(e.path.ends_with("c.thrift"), "{e}");
            assert_eq!(e.span.line, 2);
        }
        other => panic!("expected an include cycle error, got {other:?}"),
    }
    // A file included twice without a cycle (a diamond) is fine.
    std::fs::write(dir.join("c.thrift"), "struct C {}\n").unwrap();
    std::fs::write(
        dir.join("d.thrift"),
        "include \"b.thrift\"\ninclude \"c.thrift\"\nstruct D { 1: b.B b, 2: c.C c }\n",
    )
    .unwrap();
    let generated = Builder::new()
        .file(dir.join("d.thrift"))
        .generate()
        .unwrap();
    assert_eq!(generated.files.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_file_read_gets_a_rerun_if_changed() {
    let dir = scratch("rerun");
    let shared = dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("base.thrift"), "struct Base { i32 x }\n").unwrap();
    std::fs::write(
        dir.join("main.thrift"),
        "include \"base.thrift\"\nstruct Main { 1: base.Base b }\n",
    )
    .unwrap();
    let generated = Builder::new()
        .file(dir.join("main.thrift"))
        .include_dir(&shared)
        .generate()
        .unwrap();
    let lines = generated.cargo_instructions();
    let reruns: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("cargo:rerun-if-changed="))
        .collect();
    assert_eq!(
        reruns,
        [
            &format!(
                "cargo:rerun-if-changed={}",
                dir.join("main.thrift").display()
            ),
            &format!(
                "cargo:rerun-if-changed={}",
                shared.join("base.thrift").display()
            ),
        ]
    );
    // `i32 x` has no id: Apache's compiler warns, and so does the build script.
    let warnings: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("cargo:warning="))
        .collect();
    assert_eq!(warnings.len(), 1, "{lines:?}");
    assert!(warnings[0].contains("base.thrift:1:"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("field `x` has no id; it gets -1"),
        "{}",
        warnings[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
