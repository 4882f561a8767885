//! A layout like Apache's lib/rs/test_recursive (tests/codegen/layout/): several files in one
//! `namespace rs`, nested namespaces, includes found through include directories, and two
//! included files with the same name from different directories. The checked-in output in
//! tests/codegen/layout/out/ compiles here; `TETHER_BLESS=1 cargo test --test codegen_layout`
//! regenerates it.

#[allow(dead_code)]
#[path = "codegen/layout/out/mod.rs"]
mod layout;

use std::path::{Path, PathBuf};

use tether::codegen::Builder;
use tether::protocol::{decode_from, encode_to_vec};

fn layout_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen/layout")
}

fn builder() -> Builder {
    let dir = layout_dir();
    Builder::new()
        .file(dir.join("maintenance/Facility.thrift"))
        .file(dir.join("transit/Transporters.thrift"))
        .include_dir(dir.join("transit"))
        .include_dir(dir.join("transit/services"))
}

#[test]
fn checked_in_output_is_fresh() {
    let generated = builder().generate().unwrap_or_else(|e| panic!("{e}"));
    let out = layout_dir().join("out");
    if std::env::var_os("TETHER_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&out);
        builder()
            .out_dir(&out)
            .include_file(false)
            .cargo_instructions(false)
            .write_generated(&generated)
            .unwrap();
    }
    let mut stale = Vec::new();
    for file in &generated.files {
        let path = out.join(&file.path);
        if std::fs::read_to_string(&path).unwrap_or_default() != file.source {
            stale.push(path.display().to_string());
        }
    }
    if std::fs::read_to_string(out.join("mod.rs")).unwrap_or_default() != generated.mod_rs {
        stale.push("mod.rs".into());
    }
    assert!(
        stale.is_empty(),
        "stale (regenerate with TETHER_BLESS=1 cargo test --test codegen_layout): {stale:?}"
    );
}

#[test]
fn namespaces_become_nested_modules_with_files_as_siblings() {
    let generated = builder().generate().unwrap();
    let mut modules: Vec<&str> = generated.files.iter().map(|f| f.module.as_str()).collect();
    modules.sort();
    assert_eq!(
        modules,
        [
            "common",
            "common_2",
            "maintenance::facility",
            "transit::buses",
            "transit::light::streetcars",
            "transit::services::city_services",
            "transit::trains",
            "transit::transporters",
            "vehicles",
        ]
    );
    let renamed: Vec<&str> = generated
        .warnings
        .iter()
        .filter(|w| w.message.contains("common_2"))
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(renamed.len(), 1, "{:?}", generated.warnings);
}

#[test]
fn types_from_sibling_and_nested_modules_round_trip() {
    use layout::transit::light::streetcars::Streetcar;
    use layout::transit::services::city_services::Improvement;
    use layout::transit::trains::Locomotive;
    use layout::vehicles::Material;

    let car = Streetcar {
        id: 4401,
        locomotive: Locomotive {
            name: "Flexity".into(),
            body: Material::ALUMINIUM,
        },
        improvements: vec![Improvement::SIGNAL_PRIORITY],
    };
    let job = layout::maintenance::facility::Job {
        car: car.clone(),
        shift: layout::common::Shift { start_hour: 6 },
        crew: layout::common_2::Crew {
            names: vec!["ada".into()],
        },
    };
    assert_eq!(
        decode_from::<layout::maintenance::facility::Job>(&encode_to_vec(&job)).unwrap(),
        job
    );
    let transporter = layout::transit::transporters::Transporter::Locomotive(car.locomotive);
    assert_eq!(
        decode_from::<layout::transit::transporters::Transporter>(&encode_to_vec(&transporter))
            .unwrap(),
        transporter
    );
}
