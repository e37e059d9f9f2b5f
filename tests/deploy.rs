//! The deployment files agree with the binary: every `CASELEDGER_*` variable they set is one
//! `caseledger serve` reads, and the Kubernetes ConfigMap carries exactly
//! `deploy/caseledger.example.toml` (which a unit test in `config.rs` holds to the defaults).

use std::collections::BTreeSet;
use std::path::Path;

use caseledger::cli::Cli;
use clap::CommandFactory as _;

const DEPLOY_FILES: &[&str] = &[
    "deploy/Dockerfile",
    "deploy/compose.yaml",
    "deploy/systemd/caseledger.service",
    "deploy/kubernetes/deployment.yaml",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The variables `serve` reads: one per flag (and the global log format), plus the log filter.
fn known_variables() -> BTreeSet<String> {
    let command = Cli::command();
    let serve = command
        .get_subcommands()
        .find(|subcommand| subcommand.get_name() == "serve")
        .unwrap();
    let mut known: BTreeSet<String> = serve
        .get_arguments()
        .chain(command.get_arguments())
        .filter_map(|argument| argument.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    known.insert(caseledger::telemetry::FILTER_ENV.into());
    known
}

fn variables_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("CASELEDGER_") {
        let tail = &rest[start..];
        let end = tail
            .find(|character: char| !(character.is_ascii_uppercase() || character == '_'))
            .unwrap_or(tail.len());
        found.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    found
}

#[test]
fn every_variable_the_deploy_files_set_is_read_by_serve() {
    let known = known_variables();
    assert!(known.contains("CASELEDGER_STORE"), "{known:?}");
    for file in DEPLOY_FILES {
        let used = variables_in(&read(file));
        assert!(!used.is_empty(), "{file} sets no CASELEDGER_* variable");
        let unknown: Vec<_> = used.difference(&known).collect();
        assert!(
            unknown.is_empty(),
            "{file} sets unknown variables {unknown:?}"
        );
    }
}

#[test]
fn the_config_map_carries_the_example_configuration() {
    let manifest = read("deploy/kubernetes/configmap.yaml");
    let marker = "  caseledger.toml: |\n";
    let start = manifest
        .find(marker)
        .expect("the ConfigMap has caseledger.toml")
        + marker.len();
    let embedded: String = manifest[start..]
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    assert_eq!(embedded, read("deploy/caseledger.example.toml"));
}
