//! The root reads as the design card draws it: the libraries every function
//! links live under `shared/`, one package per route under `functions/`,
//! and no other package sits at the top level but the admin tool and the
//! tests.

use crate::harness::emulators::{library_paths, workspace};

#[test]
fn every_library_is_under_shared_and_no_other_package_sits_at_the_root() {
    let libraries = library_paths();
    assert!(!libraries.is_empty());
    for library in &libraries {
        assert!(
            library.starts_with("shared/"),
            "{library} belongs under shared/"
        );
    }
    let mut top_level_packages: Vec<String> = std::fs::read_dir(workspace())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    top_level_packages.sort();
    assert_eq!(top_level_packages, ["admin", "tests"]);
}
