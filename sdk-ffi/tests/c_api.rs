//! The C API from C: `tests/c/api_test.c` is compiled with gcc against the generated header,
//! linked with the shared and with the static library, and run on fixture pods: a full pod
//! (vhost-user, memif, a VF; two NUMA nodes; hugepages), a pod without interfaces, a pod whose
//! sources disagree, and every error path (NULLs, bad options and indexes, malformed
//! annotations, a DPDK too old, a panic inside the library).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::*;

enum Link {
    Shared,
    Static,
}

fn compile(link: Link, out: &Path) {
    let target = lib_dir();
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests/c/api_test.c"))
        .arg("-o")
        .arg(out);
    match link {
        Link::Shared => {
            cc.arg("-L")
                .arg(&target)
                .arg("-luserspace_cni")
                .arg(format!("-Wl,-rpath,{}", target.display()))
                .arg("-lpthread");
        }
        Link::Static => {
            cc.arg(target.join("libuserspace_cni.a")).args(STATIC_DEPS);
        }
    }
    run_ok(&mut cc);
}

/// The test program, linked both ways, built once per test binary.
fn programs() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static P: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("api_test");
        let stat = dir.path().join("api_test_static");
        compile(Link::Shared, &shared);
        compile(Link::Static, &stat);
        (dir, shared, stat)
    })
}

fn run(exe: &Path, args: &[&Path], mode: &str) -> String {
    let mut cmd = Command::new(exe);
    cmd.arg(mode)
        .args(args)
        .env_remove("USERSPACE_DPDK_VERSION")
        .env_remove("USERSPACE_SHARED_DIR")
        .env_remove(PCI_ENV.0);
    if mode == "full" || mode == "errors" {
        cmd.env(PCI_ENV.0, PCI_ENV.1);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "api_test {mode} ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(&format!("api_test {mode}: ")), "{stdout}");
    stdout
}

#[test]
fn a_full_pod_through_every_accessor_shared_and_static() {
    let (_, shared, stat) = programs();
    let res = tempfile::tempdir().unwrap();
    let r = two_node_resources(res.path());
    let pod = full_pod();
    let out = run(shared, &[pod.path(), &r], "full");
    assert!(out.contains(", 0 failed"), "{out}");
    run(stat, &[pod.path(), &r], "full");
}

#[test]
fn a_pod_without_interfaces() {
    let (_, shared, _) = programs();
    let res = tempfile::tempdir().unwrap();
    let r = resources("no-hugepages", res.path());
    let pod = empty_pod();
    run(shared, &[pod.path(), &r], "empty");
}

#[test]
fn a_pod_whose_sources_disagree() {
    let (_, shared, _) = programs();
    let res = tempfile::tempdir().unwrap();
    let r = resources("cgroup-v2-pod", res.path());
    let pod = conflict_pod();
    run(shared, &[pod.path(), &r], "conflict");
}

#[test]
fn error_paths_nulls_bad_options_bad_indexes_and_a_panic() {
    let (_, shared, stat) = programs();
    let res = tempfile::tempdir().unwrap();
    let r = two_node_resources(res.path());
    let bad = malformed_pod();
    let pod = full_pod();
    run(shared, &[bad.path(), pod.path(), &r], "errors");
    // The static library unwinds the same way.
    run(stat, &[bad.path(), pod.path(), &r], "errors");
}

/// Every function the header declares is called by the C test program.
#[test]
fn the_c_test_calls_every_function_of_the_header() {
    let header = std::fs::read_to_string(crate_dir().join("include/userspace_cni.h")).unwrap();
    let test = std::fs::read_to_string(crate_dir().join("tests/c/api_test.c")).unwrap();
    let mut functions = Vec::new();
    for line in header.lines() {
        if line.starts_with("//") || line.starts_with('#') || line.starts_with(' ') {
            continue;
        }
        if let Some(open) = line.find('(') {
            let name = line[..open].rsplit([' ', '*']).next().unwrap_or_default();
            if name.starts_with("userspace_") {
                functions.push(name.to_owned());
            }
        }
    }
    assert!(functions.len() > 60, "parsed only {functions:?}");
    let mut unique = functions.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        functions.len(),
        "a function is declared twice"
    );
    let missing: Vec<_> = functions
        .iter()
        .filter(|f| !test.contains(&format!("{f}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "not called by tests/c/api_test.c: {missing:?}"
    );
}

/// `examples/c/testpmd_line.c` (what `sdk/tests/c_abi.rs` tested before the C API moved here)
/// builds with the examples' Makefile, prints the testpmd line of a pod, and reports the SDK's
/// error text for a pod without interfaces.
#[test]
fn the_testpmd_line_example_builds_and_reports_errors_through_the_api() {
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join("testpmd_line");
    run_ok(
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(workspace().join("examples/c"))
            .arg(format!("O={}", out.path().display()))
            .arg(format!("SDK_LIB={}", lib_dir().display()))
            .arg(&exe),
    );
    let res = tempfile::tempdir().unwrap();
    let r = two_node_resources(res.path());
    let run = |pod: &Pod| {
        Command::new(&exe)
            .env("USERSPACE_PODINFO", pod.podinfo())
            .env("USERSPACE_PROC_ROOT", r.join("proc"))
            .env("USERSPACE_SYS_ROOT", r.join("sys"))
            .env("USERSPACE_CONTAINER_ID", ID)
            .env("USERSPACE_DPDK_VERSION", "22.11")
            .env_remove("USERSPACE_SHARED_DIR")
            .env_remove(PCI_ENV.0)
            .output()
            .unwrap()
    };
    let ok = run(&full_pod());
    assert!(ok.status.success(), "{ok:?}");
    let line = String::from_utf8_lossy(&ok.stdout);
    assert!(
        line.starts_with("dpdk-testpmd -l 2,3 --main-lcore 2 ") && line.contains("--auto-start"),
        "{line}"
    );
    let empty = run(&empty_pod());
    assert_eq!(empty.status.code(), Some(1));
    let err = String::from_utf8_lossy(&empty.stderr);
    assert!(
        err.contains("userspace: no EAL command line for this pod: no userspace interfaces"),
        "{err}"
    );
}
