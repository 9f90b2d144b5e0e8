//! The Grafana dashboard beside the DaemonSet (examples/k8s/grafana-userspace-node.json)
//! queries only series the agent exposes.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::Agent;

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn every_metric_the_dashboard_queries_is_one_the_agent_exposes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/k8s/grafana-userspace-node.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "{queries:?}");

    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &[]);
    // Every family is declared (# TYPE) even on a node without attachments.
    let exposed: BTreeSet<String> = agent
        .get("/metrics", None)
        .body
        .lines()
        .filter_map(|l| {
            l.strip_prefix("# TYPE ")?
                .split(' ')
                .next()
                .map(str::to_owned)
        })
        .collect();
    for q in &queries {
        for word in q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("userspace_") {
                assert!(
                    exposed.contains(word),
                    "{word} (in {q}) is not exposed: {exposed:?}"
                );
            }
        }
    }
}
