//! kubectl-testpmd end to end against a fake API server that speaks the real endpoints:
//! pod GET and the exec WebSocket with the v4/v5 channel subprotocols and the status channel.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::{Command, Output, Stdio};

use fake_api::{ExecReply, FakeApi};
use serde_json::{Value, json};
use userspace_cni_sdk::dpdk::EXIT_NO_INTERFACES;

fn run(api: &FakeApi, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_kubectl-testpmd"))
        .arg("--kubeconfig")
        .arg(api.kubeconfig_in(dir.path(), Some("cnf")).unwrap())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The fake API server holding `pods`, whose exec does `reply` over `protocol`.
fn start(pods: Vec<Value>, reply: ExecReply, protocol: &str) -> FakeApi {
    let api = FakeApi::with_pods(pods).unwrap();
    let mut s = api.lock();
    s.exec = reply;
    s.exec_protocol = protocol.into();
    drop(s);
    api
}

/// The exec requests' paths, with their queries (command, container, tty…).
fn execs(api: &FakeApi) -> Vec<String> {
    api.lock()
        .requests
        .iter()
        .filter(|r| r.route().ends_with("/exec"))
        .map(|r| r.path.clone())
        .collect()
}

/// A pod in namespace `cnf` with the given containers.
fn pod(name: &str, containers: &[&str]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "cnf", "uid": "u1", "resourceVersion": "7"},
           "spec": {"containers": containers.iter().map(|c| json!({"name": c, "image": "testpmd"})).collect::<Vec<_>>()}})
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(stdout: &str) -> ExecReply {
    ExecReply::Run {
        stdout: stdout.into(),
        stderr: String::new(),
        exit: 0,
    }
}

/// A pod `web-0` whose agent prints `stderr` and exits with `exit`.
fn agent_exits(stderr: &str, exit: u8) -> FakeApi {
    start(
        vec![pod("web-0", &["dpdk"])],
        ExecReply::Run {
            stdout: String::new(),
            stderr: stderr.into(),
            exit,
        },
        "v4.channel.k8s.io",
    )
}

#[test]
fn dry_run_execs_the_agent_in_the_pod_and_prints_its_line() {
    for protocol in ["v4.channel.k8s.io", "v5.channel.k8s.io"] {
        let api = start(
            vec![pod("web-0", &["dpdk"])],
            ok("dpdk-testpmd -l 0,1 --vdev=net_virtio_user0,path=/x\n"),
            protocol,
        );
        let out = run(&api, &["web-0", "--dry-run", "--", "--rxd=512"]);
        assert!(out.status.success(), "{protocol}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "dpdk-testpmd -l 0,1 --vdev=net_virtio_user0,path=/x\n"
        );
        let execs = execs(&api);
        assert_eq!(execs.len(), 1);
        let q = &execs[0];
        assert!(
            q.starts_with("/api/v1/namespaces/cnf/pods/web-0/exec?"),
            "the context's namespace is used: {q}"
        );
        for part in [
            "command=userspace-agent",
            "command=testpmd",
            "command=--dry-run",
            "command=--",
            "command=--rxd%3D512",
            "container=dpdk",
            "stdout=true",
        ] {
            assert!(q.contains(part), "{part} missing in {q}");
        }
        assert!(!q.contains("tty=true"), "no TTY without a terminal: {q}");
    }
}

#[test]
fn inspect_runs_the_agents_inspect() {
    let api = start(
        vec![pod("web-0", &["dpdk"])],
        ok("interfaces (1):\n"),
        "v4.channel.k8s.io",
    );
    let out = run(&api, &["-n", "cnf", "web-0", "--inspect"]);
    assert!(out.status.success());
    assert!(execs(&api)[0].contains("command=inspect"));
}

#[test]
fn the_remote_exit_code_is_propagated() {
    let api = start(
        vec![pod("web-0", &["dpdk"])],
        ExecReply::Run {
            stdout: String::new(),
            stderr: "boom\n".into(),
            exit: 4,
        },
        "v5.channel.k8s.io",
    );
    let out = run(&api, &["web-0", "--dry-run"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("boom"), "stderr passed through");
}

#[test]
fn a_missing_pod_is_named() {
    let api = start(vec![], ok(""), "v4.channel.k8s.io");
    let out = run(&api, &["nope", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("pod cnf/nope not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_ambiguous_container_asks_for_c() {
    let api = start(
        vec![pod("web-0", &["dpdk", "sidecar"])],
        ok(""),
        "v4.channel.k8s.io",
    );
    let out = run(&api, &["web-0", "--dry-run"]);
    assert!(
        text(&out.stderr).contains("has 2 containers (dpdk, sidecar): choose one with -c"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&api, &["web-0", "-c", "sidecar", "--dry-run"]);
    assert!(out.status.success());
}

#[test]
fn an_image_without_the_agent_says_so() {
    let api = start(
        vec![pod("web-0", &["dpdk"])],
        ExecReply::NoExecutable,
        "v4.channel.k8s.io",
    );
    let out = run(&api, &["web-0", "--dry-run"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("container dpdk could not start userspace-agent")
            && err.contains("--agent PATH"),
        "{err}"
    );
}

#[test]
fn a_runtime_that_reports_a_missing_agent_as_exit_code_127_gets_the_same_hint() {
    let api = agent_exits("sh: userspace-agent: not found\n", 127);
    let out = run(&api, &["web-0"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("container dpdk could not start userspace-agent")
            && err.contains("(exit code 127)"),
        "{err}"
    );
}

#[test]
fn a_pod_without_userspace_interfaces_gets_a_hint_from_the_agents_exit_code() {
    // What the real agent prints when its wait times out: no fixed phrase to look for.
    let stderr =
        "userspace-agent: error: gave up after 30s waiting for the pod's userspace interfaces\n";
    let api = agent_exits(stderr, EXIT_NO_INTERFACES);
    let out = run(&api, &["web-0"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(i32::from(EXIT_NO_INTERFACES)));
    assert!(
        err.contains("the pod has no userspace interfaces: attach it to a userspace network"),
        "{err}"
    );
}

#[test]
fn another_agent_failure_gets_no_interfaces_hint() {
    let api = agent_exits("userspace-agent: error: no userspace interfaces\n", 2);
    let out = run(&api, &["web-0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("attach it to a userspace network"));
}

#[test]
fn rbac_denials_name_the_verb_and_resource() {
    let api = start(vec![pod("web-0", &["dpdk"])], ok(""), "v4.channel.k8s.io");
    api.lock().refuse("GET", "pods/exec", 403);
    api.lock().refuse("POST", "pods/exec", 403);
    let err = text(&run(&api, &["web-0", "--dry-run"]).stderr);
    assert!(
        err.contains("verb \"create\" on the resource \"pods/exec\""),
        "{err}"
    );
    api.lock().refuse("GET", "pods", 403);
    let err = text(&run(&api, &["web-0", "--dry-run"]).stderr);
    assert!(
        err.contains("verb \"get\" on the resource \"pods\""),
        "{err}"
    );
}

#[test]
fn help_documents_the_plugin() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-testpmd"))
        .arg("--help")
        .output()
        .unwrap();
    let h = text(&out.stdout);
    for part in [
        "kubectl testpmd dpdk-app-0",
        "--namespace",
        "--container",
        "--context",
        "--kubeconfig",
        "--dry-run",
        "--inspect",
    ] {
        assert!(h.contains(part), "{part} not in --help");
    }
}
