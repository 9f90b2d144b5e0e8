//! The agent binary against a state directory the plugin wrote and a private `ovsdb-server`:
//! what `/metrics`, `/healthz` and `/readyz` say, and how it stops. Needs `ovsdb-server`
//! (`scripts/setup-host.sh`) and Debian's `promtool` (package `prometheus`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Agent, poll, sample};
use userspace_plugin::attachment::AttachmentId;
use userspace_plugin::attachment::journal::{Step, Store, Writer};
use userspace_test_support::cni_vars;
use userspace_test_support::ovs::Ovs;

const WAIT: Duration = Duration::from_secs(30);

fn conf(dir: &Path, ovsdb: &str) -> Value {
    json!({
        "cniVersion": "1.0.0", "name": "net-a", "type": "userspace",
        "ovsdbSocket": ovsdb,
        "sharedDir": dir.join("shared"), "stateDir": dir.join("state"), "socketAliasRoot": dir.join("vs"),
        "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
                 "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}}
    })
}

/// The plugin's ADD, in-process, for pod `namespace/pod`.
fn add(dir: &Path, ovsdb: &str, id: &str, namespace: &str, pod: &str) {
    let env = cni_vars(
        "ADD",
        id,
        "net1",
        &format!("IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={pod}"),
    );
    let out = userspace_plugin::run(&env, conf(dir, ovsdb).to_string().as_bytes());
    assert_eq!(out.code, 0, "ADD {id}: {}", out.stdout);
}

fn metrics(agent: &Agent) -> String {
    let r = agent.get("/metrics", None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn state(dir: &Path) -> PathBuf {
    dir.join("state")
}

#[test]
fn an_empty_node_serves_prometheus_text_by_default_and_openmetrics_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(state(dir.path())).unwrap();
    let agent = Agent::start(&state(dir.path()), &[]);
    let text = agent.get("/metrics", None);
    assert_eq!(
        text.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(!text.body.contains("# EOF"), "{}", text.body);
    let om = agent.get(
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    );
    assert!(
        om.content_type
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    for body in [&text.body, &om.body] {
        assert_eq!(
            sample(
                body,
                "userspace_node_attachments",
                &[("engine", "ovs-dpdk")]
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(body, "userspace_node_state_dir_readable", &[]),
            Some(1.0)
        );
    }
    assert_eq!(
        agent.get("/readyz", None).status,
        200,
        "no switch configured, state dir readable"
    );
}

#[test]
fn promtool_accepts_the_exposition_of_a_node_with_an_attachment() {
    let ovs = Ovs::start_db("nodeprom");
    let dir = tempfile::tempdir().unwrap();
    add(
        dir.path(),
        &ovs.endpoint(),
        &"a1".repeat(32),
        "default",
        "web-0",
    );
    let agent = Agent::start(&state(dir.path()), &["--ovsdb", &ovs.endpoint()]);
    let body = poll("the attachment is exposed", WAIT, || {
        let b = metrics(&agent);
        sample(&b, "userspace_attachment_link_up", &[("pod", "web-0")])
            .map(|_| b.clone())
            .ok_or(b)
    });
    let (ok, out) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .output_with(&body);
    assert!(ok, "promtool rejects the exposition: {out}\n{body}");
}

/// `Command::output` with stdin.
trait OutputWith {
    fn output_with(&mut self, stdin: &str) -> (bool, String);
}

impl OutputWith for Command {
    fn output_with(&mut self, stdin: &str) -> (bool, String) {
        use std::io::Write;
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

#[test]
fn an_attachment_is_labelled_with_the_pod_the_runtime_named_at_add() {
    let ovs = Ovs::start_db("nodelabels");
    let dir = tempfile::tempdir().unwrap();
    let id = "b2".repeat(32);
    add(dir.path(), &ovs.endpoint(), &id, "shop", "cart-7");
    let agent = Agent::start(&state(dir.path()), &["--ovsdb", &ovs.endpoint()]);
    let labels = [
        ("namespace", "shop"),
        ("pod", "cart-7"),
        ("network", "net-a"),
        ("interface", "net1"),
        ("engine", "ovs-dpdk"),
        ("kind", "vhostuser"),
        ("port", &format!("{}-net1", &id[..12])),
    ];
    poll("the attachment's series with every label", WAIT, || {
        let b = metrics(&agent);
        sample(&b, "userspace_attachment_port_missing", &labels).ok_or(b)
    });
    let b = metrics(&agent);
    assert_eq!(
        sample(&b, "userspace_node_attachments", &[("engine", "ovs-dpdk")]),
        Some(1.0)
    );
}

#[test]
fn unreadable_and_uncommitted_journals_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(state(dir.path()));
    // A killed ADD: an intent, no commit.
    let killed = AttachmentId::new(&"c3".repeat(32), "net1").unwrap();
    let mut w = Writer::begin(&store, killed, "net-a", None);
    w.intend(Step::Lease {
        plugin: "host-local".into(),
    })
    .unwrap();
    // Garbage under a journal's name, and an empty one.
    let garbage = AttachmentId::new(&"d4".repeat(32), "net1").unwrap();
    std::fs::write(
        state(dir.path()).join(format!("{}.json", garbage.key())),
        b"\0\0{oops",
    )
    .unwrap();
    let empty = AttachmentId::new(&"e5".repeat(32), "net1").unwrap();
    std::fs::write(state(dir.path()).join(format!("{}.json", empty.key())), b"").unwrap();
    let agent = Agent::start(&state(dir.path()), &[]);
    let b = metrics(&agent);
    assert_eq!(
        sample(&b, "userspace_node_journals_unreadable", &[]),
        Some(2.0),
        "{b}"
    );
    assert_eq!(
        sample(&b, "userspace_node_journals_uncommitted", &[]),
        Some(1.0),
        "{b}"
    );
    assert_eq!(
        sample(&b, "userspace_node_attachments", &[("engine", "ovs-dpdk")]),
        Some(0.0)
    );
}

#[test]
fn ovsdb_down_is_reported_not_ready_and_the_agent_connects_once_it_is_back() {
    let ovs = Ovs::start_db("nodedown");
    ovs.stop_ovsdb_server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(state(dir.path())).unwrap();
    let agent = Agent::start(&state(dir.path()), &["--ovsdb", &ovs.endpoint()]);
    let b = metrics(&agent);
    assert_eq!(
        sample(
            &b,
            "userspace_node_switch_reachable",
            &[("engine", "ovs-dpdk")]
        ),
        Some(0.0)
    );
    let r = agent.get("/readyz", None);
    assert_eq!(r.status, 503);
    assert!(r.body.contains("OVSDB"), "{}", r.body);
    ovs.start_ovsdb_server();
    poll("the agent reconnects (backoff)", WAIT, || {
        let b = metrics(&agent);
        (sample(
            &b,
            "userspace_node_switch_reachable",
            &[("engine", "ovs-dpdk")],
        ) == Some(1.0))
        .then_some(())
        .ok_or(b)
    });
    assert_eq!(agent.get("/readyz", None).status, 200);
}

#[test]
fn a_journaled_port_deleted_from_ovsdb_is_reported_missing() {
    let ovs = Ovs::start_db("nodemissing");
    let dir = tempfile::tempdir().unwrap();
    let id = "f6".repeat(32);
    add(dir.path(), &ovs.endpoint(), &id, "default", "gone-0");
    let agent = Agent::start(&state(dir.path()), &["--ovsdb", &ovs.endpoint()]);
    let missing = |b: &str| sample(b, "userspace_attachment_port_missing", &[("pod", "gone-0")]);
    poll("the port is seen", WAIT, || {
        let b = metrics(&agent);
        (missing(&b) == Some(0.0)).then_some(()).ok_or(b)
    });
    ovs.vsctl_ok(&["--no-wait", "del-port", &format!("{}-net1", &id[..12])]);
    poll("the port is reported missing", WAIT, || {
        let b = metrics(&agent);
        (missing(&b) == Some(1.0)
            && sample(
                &b,
                "userspace_node_ports_missing",
                &[("engine", "ovs-dpdk")],
            ) == Some(1.0))
        .then_some(())
        .ok_or(b)
    });
    assert!(
        agent.log().contains("journaled port is missing"),
        "{}",
        agent.log()
    );
}

#[test]
fn sigterm_ends_the_agent_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(dir.path(), &["--ovsdb", "unix:/nonexistent/db.sock"]);
    let started = std::time::Instant::now();
    let status = agent.terminate().expect("the agent exits on SIGTERM");
    eprintln!("exited {:?} after SIGTERM", started.elapsed());
    assert!(status.success(), "{status}\n{}", agent.log());
}

#[test]
fn with_repair_a_port_deleted_by_hand_is_made_again_and_journaled() {
    let ovs = Ovs::start_db("noderepair");
    let dir = tempfile::tempdir().unwrap();
    let id = "a9".repeat(32);
    add(dir.path(), &ovs.endpoint(), &id, "default", "fixed-0");
    let key = AttachmentId::new(&id, "net1").unwrap().key();
    let journal = state(dir.path()).join(format!("{key}.json"));
    let lines = || std::fs::read_to_string(&journal).unwrap().lines().count();
    let before = lines();
    let agent = Agent::start(
        &state(dir.path()),
        &["--ovsdb", &ovs.endpoint(), "--repair"],
    );
    let port = format!("{}-net1", &id[..12]);
    ovs.vsctl_ok(&["--no-wait", "del-port", &port]);
    poll("the port is made again", WAIT, || {
        let b = metrics(&agent);
        let ports = ovs.vsctl_ok(&["--no-wait", "list-ports", "br0"]);
        (ports.lines().any(|p| p == port)
            && sample(&b, "userspace_node_ports_repaired_total", &[]) == Some(1.0)
            && sample(
                &b,
                "userspace_attachment_port_missing",
                &[("pod", "fixed-0")],
            ) == Some(0.0))
        .then_some(())
        .ok_or(format!("ports {ports:?}\n{b}"))
    });
    assert_eq!(
        lines(),
        before + 1,
        "the new record appended to the journal"
    );
    assert_eq!(
        ovs.vsctl_ok(&[
            "--no-wait",
            "get",
            "Port",
            &port,
            "external_ids:userspace-cni/container-id"
        ])
        .trim_matches('"'),
        id,
        "made with the attachment's tags"
    );
}
