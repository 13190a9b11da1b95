//! The root reads as the design card draws it: the libraries every function
//! links live under `shared/`, one package per route under `functions/`,
//! and no other package sits at the top level but the admin tool and the
//! tests; a new route is scaffolded by `make new-route`.

use std::path::Path;
use std::process::Command;

use serde_norway::Value as Yaml;

use crate::harness::emulators::{library_paths, workspace, workspace_file};

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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn new_route(root: &Path, arguments: &[&str]) {
    let status = Command::new("python3")
        .arg(workspace().join("tools/new-route.py"))
        .args(arguments)
        .env("NEW_ROUTE_ROOT", root)
        .status()
        .expect("python3 runs tools/new-route.py");
    assert!(status.success(), "new-route.py {arguments:?}");
}

/// `make new-route` writes the package, the template resource, the event
/// and the OpenAPI operation; `make remove-route` takes exactly those away.
/// On a copy of the tree, so the real one never holds a throwaway route.
#[test]
fn new_route_scaffolds_each_list_and_remove_route_restores_the_tree() {
    let root = workspace().join(format!("target/tmp/new-route-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&workspace().join("events"), &root.join("events"));
    std::fs::create_dir_all(root.join("functions")).unwrap();
    for file in ["template.yaml", "openapi.yaml"] {
        std::fs::copy(workspace().join(file), root.join(file)).unwrap();
    }
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap();
    let events_before = std::fs::read_dir(root.join("events")).unwrap().count();

    new_route(&root, &["add", "get-avatar", "GET", "/v1/api/user/avatar"]);
    new_route(&root, &["add", "get-thing", "GET", "/v1/api/things/{id}"]);
    let template: Yaml = serde_norway::from_str(&read("template.yaml")).unwrap();
    let function = &template["Resources"]["GetThingFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("get-thing")
    );
    let route = &function["Properties"]["Events"]["Api"]["Properties"];
    assert_eq!(route["Method"].as_str(), Some("GET"));
    assert_eq!(route["Path"].as_str(), Some("/v1/api/things/{id}"));
    assert!(
        function["Properties"]["Policies"].is_null(),
        "no grant until one is listed"
    );
    let openapi: Yaml = serde_norway::from_str(&read("openapi.yaml")).unwrap();
    let operation = &openapi["paths"]["/v1/api/things/{id}"]["get"];
    assert_eq!(operation["x-function"].as_str(), Some("get-thing"));
    assert_eq!(operation["parameters"][0]["name"].as_str(), Some("id"));
    let event: serde_json::Value = serde_json::from_str(&read("events/get-thing.json")).unwrap();
    assert_eq!(event["routeKey"], "GET /v1/api/things/{id}");
    assert_eq!(event["pathParameters"]["id"], "example-id");
    assert!(read("functions/get-avatar/src/lib.rs").contains("GET /v1/api/user/avatar"));

    new_route(&root, &["remove", "get-thing"]);
    new_route(&root, &["remove", "get-avatar"]);
    for file in ["template.yaml", "openapi.yaml"] {
        assert_eq!(
            read(file),
            workspace_file(file),
            "{file} after remove-route"
        );
    }
    assert_eq!(
        std::fs::read_dir(root.join("events")).unwrap().count(),
        events_before
    );
    assert_eq!(
        std::fs::read_dir(root.join("functions")).unwrap().count(),
        0
    );
    std::fs::remove_dir_all(&root).unwrap();
}
