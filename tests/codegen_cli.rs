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
