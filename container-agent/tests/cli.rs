//! The agent's subcommands end to end on fixture pods (no DPDK traffic): what `inspect`
//! shows, the `--dry-run` line, `run` as PID 1, and the errors users see.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Pod, agent_bin, config_entry};
use userspace_cni_sdk::dpdk::EXIT_NO_INTERFACES;

fn agent(pod: &Pod, args: &[&str]) -> Output {
    Command::new(agent_bin())
        .args(pod.agent_args(args))
        .env("USERSPACE_DPDK_VERSION", "22.11")
        .env_remove("USERSPACE_SHARED_DIR")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A pod with a vhost-user (pod is server) and a memif (pod is client) interface, described by
/// the configuration-data annotation and by Multus' network-status.
fn two_interface_pod() -> Pod {
    let pod = Pod::new();
    let vsock = format!("{}-net1", pod.id12());
    let msock = format!("memif-{}-net2.sock", pod.id12());
    let entries = vec![
        config_entry(
            &pod.id,
            "net1",
            json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface", "vhost": {"mode": "server", "socketfile": vsock}}),
            "10.56.217.10/24",
        ),
        config_entry(
            &pod.id,
            "net2",
            json!({"engine": "vpp", "iftype": "memif", "netType": "interface", "memif": {"role": "slave", "mode": "ethernet", "socketfile": msock}}),
            "10.56.218.10/24",
        ),
    ];
    let status = json!([
        {"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.5"], "default": true},
        {"name": "default/userspace-net", "interface": "net1", "ips": ["10.56.217.10"],
         "device-info": {"type": "vhost-user", "version": "1.1.0", "vhost-user": {"mode": "server", "path": pod.shared().join(&vsock)}}}
    ]);
    pod.annotate(&[
        (
            "userspace/configuration-data",
            serde_json::to_string(&entries).unwrap(),
        ),
        ("userspace/mapped-dir", pod.shared().display().to_string()),
        (
            "k8s.v1.cni.cncf.io/network-status",
            serde_json::to_string_pretty(&status).unwrap(),
        ),
    ]);
    pod
}

/// The words of a line (the table's columns are padded with spaces).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn inspect_shows_a_table_of_the_interfaces_and_the_sources_of_their_facts() {
    let pod = two_interface_pod();
    let out = agent(&pod, &["inspect"]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        s.contains(&format!("container  {} (override", pod.id)),
        "{s}"
    );
    let lines: Vec<&str> = s.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.trim_start().starts_with("NAME "))
        .unwrap_or_else(|| panic!("no table header:\n{s}"));
    assert_eq!(
        words(lines[head]),
        [
            "NAME",
            "KIND",
            "SOCKET",
            "ROLE",
            "MAC",
            "ADDRESSES",
            "QUEUES",
            "VLAN",
            "MTU"
        ],
        "{s}"
    );
    // One row per interface: the socket as the pod sees it, the pod's role, `-` for unknown.
    let shared = pod.shared();
    let vsock = shared.join(format!("{}-net1", pod.id12()));
    let msock = shared.join(format!("memif-{}-net2.sock", pod.id12()));
    assert_eq!(
        words(lines[head + 1]),
        [
            "net1",
            "vhost-user",
            vsock.to_str().unwrap(),
            "server",
            "02:00:00:00:00:01",
            "10.56.217.10/24",
            "-",
            "-",
            "-"
        ],
        "{s}"
    );
    assert_eq!(
        words(lines[head + 2]),
        [
            "net2",
            "memif",
            msock.to_str().unwrap(),
            "client",
            "02:00:00:00:00:01",
            "10.56.218.10/24",
            "-",
            "-",
            "-"
        ],
        "{s}"
    );
    // The columns line up: each header starts where its cells start.
    let col = lines[head].find("SOCKET").unwrap();
    assert_eq!(
        lines[head + 1].find(vsock.to_str().unwrap()),
        Some(col),
        "{s}"
    );
    assert_eq!(
        lines[head + 2].find(msock.to_str().unwrap()),
        Some(col),
        "{s}"
    );
    // The facts outside the table, one line per interface.
    assert!(
        s.contains(
            "  net1: network default/userspace-net; gateway 10.56.217.1; routes 0.0.0.0/0\n"
        ),
        "{s}"
    );
    // Where each fact came from: sources numbered once, facts grouped by their sources.
    assert!(
        s.contains(
            "sources:\n  [1] annotation k8s.v1.cni.cncf.io/network-status\n  [2] annotation userspace/configuration-data\n"
        ),
        "{s}"
    );
    let net1 = lines
        .iter()
        .find(|l| l.trim_start().starts_with("net1 ") && l.contains('['))
        .unwrap();
    assert_eq!(
        words(net1),
        [
            "net1",
            "kind,socket,role,addresses,network",
            "[1+2]",
            "mac,gateway,routes",
            "[2]"
        ],
        "the socket path is confirmed by both annotations:\n{s}"
    );
    assert!(
        !s.contains("eth0"),
        "the default network is not listed:\n{s}"
    );
}

#[test]
fn inspect_json_is_the_whole_view() {
    let pod = two_interface_pod();
    let out = agent(&pod, &["inspect", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["container"]["rule"], "override");
    assert_eq!(v["interfaces"].as_array().unwrap().len(), 2);
    assert_eq!(v["interfaces"][0]["role"]["value"], "server");
    assert_eq!(v["interfaces"][1]["kind"]["value"], "memif");
    assert!(v["resources"]["cpus"]["usable"].is_string());
}

#[test]
fn dry_run_prints_one_shell_quoted_line_with_both_devices() {
    let pod = two_interface_pod();
    let out = agent(
        &pod,
        &[
            "testpmd",
            "--dry-run",
            "--huge",
            "no",
            "--file-prefix",
            "t1",
            "--",
            "--rxd=512",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert_eq!(line.lines().count(), 1);
    let words = shlex::split(line.trim()).unwrap();
    let sock = pod.shared().join(format!("{}-net1", pod.id12()));
    assert!(
        words.contains(&format!(
            "--vdev=net_virtio_user0,path={},server=1,queues=1,mac=02:00:00:00:00:01",
            sock.display()
        )),
        "{line}"
    );
    assert!(
        words
            .iter()
            .any(|w| w.starts_with("--vdev=net_memif0,role=client,socket=")
                && w.contains("socket-abstract=no")),
        "{line}"
    );
    assert!(
        words.windows(3).any(|w| w == ["--no-huge", "-m", "256"]),
        "{line}"
    );
    assert_eq!(words.last().unwrap(), "--rxd=512", "extra args go last");
}

#[test]
fn conflicting_sources_stop_testpmd_with_both_values_named() {
    let pod = two_interface_pod();
    let text_ann = std::fs::read_to_string(pod.podinfo().join("annotations")).unwrap();
    // network-status now disagrees about the socket path.
    let path = format!("shared/{}-net1\\\"", pod.id12());
    assert!(text_ann.contains(&path));
    std::fs::write(
        pod.podinfo().join("annotations"),
        text_ann.replace(&path, "shared/other\\\""),
    )
    .unwrap();
    let out = agent(&pod, &["testpmd", "--dry-run"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sources disagree") && err.contains("net1: socket_path"),
        "{err}"
    );
    assert!(err.contains("--allow-conflicts"), "{err}");
    let out = agent(&pod, &["testpmd", "--dry-run", "--allow-conflicts"]);
    assert!(out.status.success());
}

#[test]
fn a_malformed_annotations_file_names_the_file_and_line() {
    let pod = Pod::new();
    std::fs::write(
        pod.podinfo().join("annotations"),
        "a=\"1\"\nuserspace/mapped-dir=\"/x\\q\"",
    )
    .unwrap();
    let out = agent(&pod, &["inspect"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("annotations") && err.contains("line 2") && err.contains("unknown escape"),
        "{err}"
    );
}

#[test]
fn each_cause_of_an_error_is_printed_once() {
    let pod = Pod::new();
    std::fs::write(
        pod.podinfo().join("annotations"),
        "userspace/mapped-dir=\"/x\\q\"",
    )
    .unwrap();
    let out = agent(&pod, &["inspect"]);
    let err = text(&out.stderr);
    assert_eq!(err.matches("unknown escape").count(), 1, "{err}");
    let file = pod.podinfo().join("annotations");
    assert_eq!(err.matches(file.to_str().unwrap()).count(), 1, "{err}");
}

#[test]
fn a_pod_without_interfaces_gets_a_clear_timeout() {
    let pod = Pod::new();
    let t = Instant::now();
    let out = agent(&pod, &["run", "--wait-timeout", "600ms", "--", "true"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(i32::from(EXIT_NO_INTERFACES)));
    assert!(
        err.contains("gave up after") && err.contains("0 userspace interface(s) found"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn testpmd_on_a_pod_without_interfaces_exits_with_the_no_interfaces_code() {
    let pod = Pod::new();
    let out = agent(&pod, &["testpmd", "--wait-timeout", "300ms"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(EXIT_NO_INTERFACES)),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_waits_for_a_host_socket_then_returns_the_commands_exit_code() {
    let pod = Pod::new();
    let sock = format!("{}-net1", pod.id12());
    let entries = vec![config_entry(
        &pod.id,
        "net1",
        json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "vhost": {"mode": "client", "socketfile": sock}}),
        "10.56.217.10/24",
    )];
    pod.configure(&entries, None);
    let path = pod.shared().join(&sock);
    let mut child = Command::new(agent_bin())
        .args(pod.agent_args(&[
            "-vv",
            "run",
            "--wait-timeout",
            "20s",
            "--",
            "sh",
            "-c",
            "echo \"$USERSPACE_IFACES $USERSPACE_NET1_KIND $USERSPACE_NET1_ROLE $USERSPACE_NET1_IPS\"; exit 7",
        ]))
        .env("USERSPACE_DPDK_VERSION", "22.11")
        .env_remove("USERSPACE_SHARED_DIR")
        .env_remove("USERSPACE_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The socket appears only once the agent says it is waiting for it.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("waiting") {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "the agent never waited"
        );
    }
    let _listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        text(&out.stdout).trim(),
        "net1 vhost-user client 10.56.217.10/24"
    );
}

#[test]
fn run_forwards_sigterm_and_reports_the_signal() {
    let pod = Pod::new();
    let sock = format!("memif-{}-net1.sock", pod.id12());
    let entries = vec![config_entry(
        &pod.id,
        "net1",
        json!({"engine": "vpp", "iftype": "memif", "memif": {"role": "master", "socketfile": sock}}),
        "10.56.217.10/24",
    )];
    pod.configure(&entries, None);
    let mut child = Command::new(agent_bin())
        .args(pod.agent_args(&["run", "--", "sh", "-c", "echo started; sleep 30 & wait"]))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The command runs, so the agent's handlers are in (they go in before the spawn).
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "started\n");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let t = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "SIGTERM was not forwarded"
    );
    assert_eq!(status.code(), Some(128 + 15));
}
