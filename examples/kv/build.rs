// build.rs: compiles idl/kv.thrift into $OUT_DIR/idl/ on every build where it changed.
fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("idl");
    tether::codegen::Builder::new()
        .file("idl/kv.thrift")
        .out_dir(&out)
        .write()
        .unwrap_or_else(|e| panic!("{e}"));
}
