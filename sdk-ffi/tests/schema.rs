//! `sdk/schema/pod-view-v1.json` describes the view JSON as it is produced: the SDK's
//! serialisation of pods covering every source, kind, container-ID rule and conflict, the C
//! API's `userspace_view_json`, and `userspace-agent inspect --json` all validate against it;
//! the schema is strict enough to reject a field it does not know.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
#![allow(unsafe_code)] // calls the C entry points through the rlib

mod support;

use std::ffi::{CStr, CString, c_char};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::*;
use userspace_cni::{
    UserspaceOption, UserspaceStatus, userspace_options_free, userspace_options_new,
    userspace_options_set, userspace_string_free, userspace_view_free, userspace_view_json,
    userspace_view_open,
};
use userspace_cni_sdk::discovery::{Locations, PodView};

fn validator() -> jsonschema::Validator {
    let path = workspace().join("sdk/schema/pod-view-v1.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
}

fn assert_valid(v: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("  at {}: {e}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match pod-view-v1.json:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}

fn view(pod: &Pod, res: &Path, container_id: Option<&str>, env: &[(&str, &str)]) -> Value {
    let loc = Locations {
        proc_root: res.join("proc"),
        sys_root: res.join("sys"),
        podinfo_dir: pod.podinfo(),
        shared_dir: None,
        container_id: container_id.map(str::to_owned),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let view = PodView::discover(&loc).unwrap();
    serde_json::to_value(&view).unwrap()
}

/// A shared directory with one file of each kind the SDK reads: the plugin's configData file,
/// the vhost-user CNI's port and ip4 files, kuryr's port file, and a bare socket.
fn files_pod() -> (Pod, std::os::unix::net::UnixListener) {
    let pod = Pod::new();
    let sh = pod.shared();
    let entry = config_entry(
        "net5",
        "userspace-vpp",
        json!({"engine": "vpp", "iftype": "memif", "netType": "interface",
               "memif": {"role": "master", "mode": "ethernet", "socketfile": format!("memif-{ID12}-net5.sock")}}),
        result(
            "net5",
            Some("02:00:00:00:00:05"),
            "10.60.0.5/24",
            "10.60.0.1",
            json!([]),
        ),
    );
    std::fs::write(
        sh.join(format!("configData-{ID12}-net5.json")),
        entry.to_string(),
    )
    .unwrap();
    let wire = workspace().join("sdk/tests/fixtures/wire");
    std::fs::copy(
        wire.join("vhostuser-cni-port.json"),
        sh.join(format!("{ID12}-net6.json")),
    )
    .unwrap();
    std::fs::copy(
        wire.join("vhostuser-cni-ip4.conf"),
        sh.join(format!("{ID12}-net6-ip4.conf")),
    )
    .unwrap();
    std::fs::copy(wire.join("kuryr-port.json"), sh.join(format!("{ID}-net7"))).unwrap();
    let sock = std::os::unix::net::UnixListener::bind(sh.join(format!("{ID12}-net8"))).unwrap();
    // The container ID comes from the annotation's containerId (no override, no runtime in
    // the fixture's mountinfo).
    pod.configure(
        &[config_entry(
            "net9",
            "userspace-ovs",
            vhost("client", &format!("{ID12}-net9")),
            result("net9", None, "10.56.217.9/24", "10.56.217.1", json!([])),
        )],
        None,
    );
    (pod, sock)
}

#[test]
fn the_sdk_views_of_every_kind_of_pod_match_the_schema() {
    let v = validator();
    let tmp = tempfile::tempdir().unwrap();
    let two_nodes = two_node_resources(tmp.path());
    let v1 = resources("cgroup-v1-pod", tmp.path());
    let v2 = resources("cgroup-v2-pod", tmp.path());
    let no_huge = resources("no-hugepages", tmp.path());

    let full = full_pod();
    let doc = view(&full, &two_nodes, Some(ID), &[PCI_ENV]);
    assert_eq!(doc["interfaces"].as_array().unwrap().len(), 3);
    assert_valid(&v, "the full pod", &doc);

    let doc = view(&conflict_pod(), &v2, Some(ID), &[]);
    assert_eq!(doc["conflicts"].as_array().unwrap().len(), 2);
    assert_valid(&v, "the conflicting pod", &doc);

    let doc = view(&empty_pod(), &no_huge, Some(ID), &[]);
    assert_valid(&v, "the pod without interfaces", &doc);

    // Multus' network-status with device-info of every NPWG type (vhost-user, memif, pci, vdpa).
    let npwg = Pod::new();
    let status =
        std::fs::read_to_string(workspace().join("sdk/tests/fixtures/wire/network-status.json"))
            .unwrap();
    npwg.annotate(&[("k8s.v1.cni.cncf.io/network-status", status)]);
    let doc = view(&npwg, &v1, Some(ID), &[]);
    let kinds: Vec<&str> = doc["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["vhost-user", "memif", "pci", "vdpa"]);
    assert_valid(&v, "the pod of every NPWG type", &doc);

    let (files, _sock) = files_pod();
    let doc = view(&files, &v2, None, &[]);
    assert_eq!(doc["container"]["rule"], "annotation");
    let sources: std::collections::BTreeSet<&str> = doc["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"]["source"]["source"].as_str().unwrap())
        .collect();
    for s in [
        "config-data-file",
        "vhost-user-cni-file",
        "kuryr-file",
        "shared-dir-socket",
        "configuration-data",
    ] {
        assert!(sources.contains(s), "no interface from {s}: {sources:?}");
    }
    assert_valid(&v, "the pod of shared-directory files", &doc);

    // The ID from a podman mountinfo; and none at all (a warning, container null).
    let podman = resources("cgroup-v2-pod", &tmp.path().join("podman"));
    std::fs::copy(
        workspace().join("sdk/tests/fixtures/mountinfo/podman"),
        podman.join("proc/self/mountinfo"),
    )
    .unwrap();
    let doc = view(&empty_pod(), &podman, None, &[]);
    assert_eq!(doc["container"]["rule"], "containers-storage");
    assert_valid(&v, "the podman pod", &doc);
    let doc = view(&empty_pod(), &v2, None, &[]);
    assert!(doc["container"].is_null());
    assert!(!doc["warnings"].as_array().unwrap().is_empty());
    assert_valid(&v, "the pod without a container ID", &doc);
}

#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    let v = validator();
    let tmp = tempfile::tempdir().unwrap();
    let res = two_node_resources(tmp.path());
    let doc = view(&full_pod(), &res, Some(ID), &[PCI_ENV]);
    let mut extra = doc.clone();
    extra["interfaces"][0]["queues"] = json!(4);
    assert!(!v.is_valid(&extra), "an unknown interface field passed");
    let mut kind = doc.clone();
    kind["interfaces"][0]["kind"]["value"] = json!("tap");
    assert!(!v.is_valid(&kind), "an unknown kind passed");
    let mut mac = doc.clone();
    mac["interfaces"][0]["mac"]["value"] = json!("02:00:00:00:00");
    assert!(!v.is_valid(&mac), "a short MAC passed");
    let mut gw = doc;
    gw["interfaces"][0]["gateway"]["value"] = json!("10.56.217.300");
    assert!(!v.is_valid(&gw), "a malformed gateway passed");
}

/// The C API's JSON, through the same entry points a C program calls.
#[test]
fn the_c_apis_json_matches_the_schema() {
    let v = validator();
    let tmp = tempfile::tempdir().unwrap();
    let res = two_node_resources(tmp.path());
    let pod = full_pod();
    let set = |o, opt: UserspaceOption, val: &Path| {
        let c = CString::new(val.to_str().unwrap()).unwrap();
        // SAFETY: `o` is a live handle and `c` a valid string.
        let s = unsafe { userspace_options_set(o, opt as i32, c.as_ptr()) };
        assert_eq!(s, UserspaceStatus::Ok);
    };
    let o = userspace_options_new();
    set(o, UserspaceOption::PodinfoDir, &pod.podinfo());
    set(o, UserspaceOption::ProcRoot, &res.join("proc"));
    set(o, UserspaceOption::SysRoot, &res.join("sys"));
    set(o, UserspaceOption::ContainerId, Path::new(ID));
    let mut view = std::ptr::null_mut();
    let mut text: *mut c_char = std::ptr::null_mut();
    // SAFETY: live handles and writable out pointers; each is freed once below.
    let doc: Value = unsafe {
        assert_eq!(userspace_view_open(o, &mut view), UserspaceStatus::Ok);
        userspace_options_free(o);
        assert_eq!(userspace_view_json(view, &mut text), UserspaceStatus::Ok);
        let doc = serde_json::from_str(CStr::from_ptr(text).to_str().unwrap()).unwrap();
        userspace_string_free(text);
        userspace_view_free(view);
        doc
    };
    assert_eq!(doc["container"]["id"], ID);
    assert_valid(&v, "userspace_view_json", &doc);
}

/// `userspace-agent inspect --json`, the binary `cargo build --workspace` made.
#[test]
fn the_agents_inspect_json_matches_the_schema() {
    let agent = bin_dir().join("userspace-agent");
    assert!(
        agent.exists(),
        "no {}: run `cargo build --workspace` first (scripts/test.sh does)",
        agent.display()
    );
    let v = validator();
    let tmp = tempfile::tempdir().unwrap();
    let res = two_node_resources(tmp.path());
    let pod = full_pod();
    let out = run_ok(
        Command::new(&agent)
            .args(["inspect", "--json"])
            .env("USERSPACE_PODINFO", pod.podinfo())
            .env("USERSPACE_PROC_ROOT", res.join("proc"))
            .env("USERSPACE_SYS_ROOT", res.join("sys"))
            .env("USERSPACE_CONTAINER_ID", ID)
            .env_remove("USERSPACE_SHARED_DIR")
            .env(PCI_ENV.0, PCI_ENV.1),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["interfaces"].as_array().unwrap().len(), 3);
    assert_valid(&v, "userspace-agent inspect --json", &doc);
}
