//! Golden files: every tests/codegen/*.thrift compiles to exactly the .rs file beside it.
//!
//! `TETHER_BLESS=1 cargo test --test codegen_golden` rewrites the .rs files. The kitchen sink's
//! files are also compiled and exercised by tests/codegen_kitchen_sink.rs.

use std::path::{Path, PathBuf};

use tether::codegen::Builder;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen")
}

fn idl_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "thrift"))
        .collect();
    files.sort();
    files
}

#[test]
fn generated_code_matches_golden_files() {
    let bless = std::env::var_os("TETHER_BLESS").is_some();
    let files = idl_files();
    assert!(files.len() >= 3, "golden IDL files are missing");
    let mut stale = Vec::new();
    for idl in &files {
        let generated = Builder::new()
            .file(idl)
            .generate()
            .unwrap_or_else(|e| panic!("{}: {e}", idl.display()));
        let main = generated
            .files
            .iter()
            .find(|f| f.idl == *idl)
            .expect("the requested file is generated");
        let golden = idl.with_extension("rs");
        if bless {
            std::fs::write(&golden, &main.source).unwrap();
        } else if std::fs::read_to_string(&golden).unwrap_or_default() != main.source {
            stale.push(golden.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale golden files (regenerate with TETHER_BLESS=1 cargo test --test codegen_golden): {stale:?}{}",
        rustfmt_hint()
    );
}

/// Generated code goes through rustfmt when it is installed; without it the output differs.
fn rustfmt_hint() -> &'static str {
    let found = std::process::Command::new("rustfmt")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        ""
    } else {
        " (rustfmt is not installed here; the checked-in files were formatted with it)"
    }
}
