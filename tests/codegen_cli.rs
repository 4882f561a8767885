//! `tether gen FILE... --out DIR`: one .rs per IDL file (included ones too) plus mod.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tether-gen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn gen_writes_a_module_per_idl_file_and_mod_rs() {
    let out = temp_dir("ok");
    let idl = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen");
    let status = Command::new(env!("CARGO_BIN_EXE_tether"))
        .arg("gen")
        .arg(idl.join("kitchen_sink.thrift"))
        .arg(idl.join("naming.thrift"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["kitchen_sink.rs", "mod.rs", "naming.rs", "shared.rs"]
    );
    let mod_rs = std::fs::read_to_string(out.join("mod.rs")).unwrap();
    for module in ["kitchen_sink", "shared", "naming"] {
        assert!(mod_rs.contains(&format!("pub mod {module};")), "{mod_rs}");
    }
    // Same bytes as the golden file: the CLI and the library agree.
    assert_eq!(
        std::fs::read_to_string(out.join("kitchen_sink.rs")).unwrap(),
        std::fs::read_to_string(idl.join("kitchen_sink.rs")).unwrap()
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn gen_reports_errors_with_location_and_fails() {
    let dir = temp_dir("bad");
    let idl = dir.join("bad.thrift");
    std::fs::write(&idl, "struct A {\n  1: i32 a\n  2: Nope b\n}\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .arg("gen")
        .arg(&idl)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown type `Nope`"), "{stderr}");
    assert!(stderr.contains("bad.thrift:3:6"), "{stderr}");
    assert!(stderr.contains("  2: Nope b\n  |      ^"), "{stderr}");
    assert!(!dir.join("out").exists(), "nothing is written on error");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn include_rs_names_every_module_by_absolute_path() {
    let out = temp_dir("include");
    let idl = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen/kitchen_sink.thrift");
    tether::codegen::Builder::new()
        .file(&idl)
        .out_dir(&out)
        .write()
        .unwrap();
    let include = std::fs::read_to_string(out.join("include.rs")).unwrap();
    for module in ["kitchen_sink", "shared"] {
        let path = out.canonicalize().unwrap().join(format!("{module}.rs"));
        let declaration = format!(
            "#[path = {:?}]\npub mod {module};",
            path.display().to_string()
        );
        assert!(include.contains(&declaration), "{include}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn includes_are_found_beside_the_file_then_in_include_dirs() {
    let dir = temp_dir("includes");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("lib/common.thrift"),
        "struct Id { 1: i64 value }\nconst i32 VERSION = 3\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("app/api.thrift"),
        "include \"common.thrift\"\nstruct User { 1: common.Id id }\n\
         const i32 API_VERSION = common.VERSION\n",
    )
    .unwrap();
    // Not beside api.thrift: fails without the include dir, with its location.
    match tether::codegen::Builder::new()
        .file(dir.join("app/api.thrift"))
        .generate()
    {
        Err(tether::codegen::Error::Syntax(e)) => assert_eq!(e.span.line, 1),
        other => panic!("expected an include error, got {other:?}"),
    }
    let output = Command::new(env!("CARGO_BIN_EXE_tether"))
        .arg("gen")
        .arg(dir.join("app/api.thrift"))
        .arg("-I")
        .arg(dir.join("lib"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let api = std::fs::read_to_string(dir.join("out/api.rs")).unwrap();
    assert!(api.contains("pub id: super::common::Id,"), "{api}");
    assert!(api.contains("pub const API_VERSION: i32 = 3;"), "{api}");
    assert!(dir.join("out/common.rs").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
