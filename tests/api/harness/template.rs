//! `template.yaml` read once: the one list of functions and routes that
//! every other list (the black-box stack, OpenAPI, `events/`, the grants,
//! the bench, the walkthrough) is derived from or checked against.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_norway::Value as Yaml;

use crate::harness::emulators::workspace_file;

/// `(METHOD, path, function)`, as API Gateway routes it.
pub type Route = (String, String, String);

static TEMPLATE: LazyLock<Yaml> = LazyLock::new(|| {
    serde_norway::from_str(&workspace_file("template.yaml"))
        .unwrap_or_else(|error| panic!("template.yaml: {error}"))
});

/// The whole template, parsed.
pub fn document() -> &'static Yaml {
    &TEMPLATE
}

/// Every function resource, by the name of its binary (its package).
pub fn functions() -> Vec<(String, &'static Yaml)> {
    TEMPLATE["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|resource| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|resource| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("every function names its binary");
            (binary.to_owned(), resource)
        })
        .collect()
}

pub fn function_names() -> Vec<String> {
    functions().into_iter().map(|(name, _)| name).collect()
}

/// Every HttpApi event of every function.
pub fn routes() -> BTreeSet<Route> {
    let mut routes = BTreeSet::new();
    for (function, resource) in functions() {
        let events = resource["Properties"]["Events"].as_mapping();
        for (id, event) in events.into_iter().flatten() {
            assert_eq!(
                event["Type"].as_str(),
                Some("HttpApi"),
                "{function} {id:?}: every event is an HTTP API route"
            );
            let properties = &event["Properties"];
            let text = |value: &Yaml| value.as_str().expect("a string").to_owned();
            routes.insert((
                text(&properties["Method"]).to_uppercase(),
                text(&properties["Path"]),
                function.clone(),
            ));
        }
    }
    routes
}

/// `METHOD path` of every route.
pub fn route_keys() -> BTreeSet<String> {
    routes()
        .into_iter()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect()
}
