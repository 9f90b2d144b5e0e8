//! CNI SPEC conformance: every cniVersion 0.3.0–1.1.0 × every verb × (good input, and one
//! input per error class) → the exit code, stdout validated against the JSON schema of that
//! version's result or error (`tests/fixtures/schemas/`), and no residue. Then the cases a new
//! user hit: keys of the wrong type, a missing netns, CHECK against a wrong prevResult, and
//! the verbs SPEC 1.1 forwards to the IPAM delegate.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::node::{ID, Node, cni, cni_env, cni_raw, with_prev};

use userspace_cni_sdk::wire::cni_result::SUPPORTED_VERSIONS as VERSIONS;

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!(
        "{}/tests/fixtures/schemas/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

fn assert_valid(schema_name: &str, doc: &Value, what: &str) {
    let s = schema(schema_name);
    let errors: Vec<String> = s.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{what}: {doc} breaks {schema_name}: {errors:?}"
    );
}

fn result_schema(version: &str) -> &'static str {
    match version {
        "1.1.0" => "result-1.1.json",
        "1.0.0" => "result-1.0.json",
        _ => "result-0.3.json",
    }
}

fn defined(verb: &str, version: &str) -> bool {
    match verb {
        "CHECK" => !version.starts_with("0.3"),
        "STATUS" | "GC" => version == "1.1.0",
        _ => true,
    }
}

fn expect_error(res: &Value, code: i32, want: u64, what: &str) {
    assert_eq!(code, 1, "{what}: exit code ({res})");
    assert_eq!(res["code"], want, "{what}: {res}");
    assert_valid("error.json", res, what);
}

#[test]
fn every_version_and_verb_answers_per_the_spec_and_leaves_nothing() {
    for &v in VERSIONS {
        let node = Node::new();
        let conf = node.conf(v);
        let mut gc = conf.clone();
        gc["cni.dev/valid-attachments"] = json!([{"containerID": ID, "ifname": "net1"}]);
        let (res, code) = cni("VERSION", "", "", &conf);
        assert_eq!(code, 0);
        assert_valid("version.json", &res, "VERSION");

        let (added, code) = cni("ADD", ID, "net1", &conf);
        assert_eq!(code, 0, "ADD {v}: {added}");
        assert_valid(result_schema(v), &added, &format!("ADD {v}"));
        for (verb, input) in [
            ("CHECK", with_prev(&conf, &added)),
            ("STATUS", conf.clone()),
            ("GC", gc.clone()),
        ] {
            let (res, code) = cni(verb, ID, "net1", &input);
            if defined(verb, v) {
                assert_eq!((code, &res), (0, &Value::Null), "{verb} {v}");
            } else {
                expect_error(&res, code, 1, &format!("{verb} before its version ({v})"));
            }
        }
        assert_eq!(node.db.rows("Port"), 1, "{v}: GC kept the valid attachment");
        let (res, code) = cni("DEL", ID, "net1", &conf);
        assert_eq!((code, &res), (0, &Value::Null), "DEL {v}");
        assert_eq!(
            cni("DEL", ID, "net1", &conf).0,
            Value::Null,
            "DEL again {v}"
        );
        node.assert_no_residue(&format!("after the good verbs of {v}"));

        for verb in ["ADD", "CHECK", "DEL", "STATUS", "GC"] {
            let what = |class: &str| format!("{verb} {v} with {class}");
            let (res, code) = cni_raw(verb, ID, "net1", b"{not json");
            expect_error(&res, code, 6, &what("bad JSON"));
            let mut bad = with_prev(&conf, &added);
            bad["name"] = json!("a/b");
            let (res, code) = cni(verb, ID, "net1", &bad);
            expect_error(&res, code, 7, &what("an invalid name"));
            let mut old = conf.clone();
            old["cniVersion"] = json!("0.2.0");
            let (res, code) = cni(verb, ID, "net1", &old);
            expect_error(&res, code, 1, &what("an unsupported version"));
            if matches!(verb, "ADD" | "CHECK" | "DEL") {
                let (res, code) = cni(verb, "", "net1", &with_prev(&conf, &added));
                expect_error(&res, code, 4, &what("no CNI_CONTAINERID"));
            }
            node.assert_no_residue(&what("errors"));
        }
    }
}

fn assert_refused(node: &Node, conf: &Value, path: &str) {
    let (res, code) = cni("ADD", ID, "net1", conf);
    expect_error(&res, code, 7, path);
    let msg = res["msg"].as_str().unwrap();
    assert!(msg.starts_with(path), "the message names {path}: {msg}");
    node.assert_no_residue(path);
}

#[test]
fn a_socket_key_of_the_wrong_type_is_refused_not_replaced_by_the_system_socket() {
    let node = Node::new();
    let mut conf = node.conf("1.0.0");
    conf["ovsdbSocket"] = json!(5);
    assert_refused(&node, &conf, "ovsdbSocket");
    conf["ovsdbSocket"] = json!(node.db.endpoint());
    conf["vppApiSocket"] = json!([]);
    assert_refused(&node, &conf, "vppApiSocket");
}

#[test]
fn ipam_given_as_a_string_is_refused_instead_of_meaning_no_ipam() {
    let node = Node::new();
    let mut conf = node.conf("1.0.0");
    conf["ipam"] = json!("host-local");
    assert_refused(&node, &conf, "ipam");
}

#[test]
fn sections_given_as_arrays_are_refused_instead_of_read_by_position() {
    let node = Node::new();
    for (path, set) in [
        ("host", json!([])),
        ("host.bridge", json!([])),
        ("host.vhost", json!(["client"])),
    ] {
        let mut conf = node.conf("1.0.0");
        match path.split_once('.') {
            Some((a, b)) => conf[a][b] = set,
            None => conf[path] = set,
        }
        assert_refused(&node, &conf, path);
    }
}

#[test]
fn a_config_without_type_or_with_a_bad_network_name_is_refused() {
    let node = Node::new();
    let mut conf = node.conf("1.0.0");
    conf.as_object_mut().unwrap().remove("type");
    assert_refused(&node, &conf, "type");
    let mut conf = node.conf("1.0.0");
    conf["name"] = json!("tenant/net");
    conf.as_object_mut().unwrap().remove("ipam");
    assert_refused(&node, &conf, "name");
}

#[test]
fn the_go_plugins_configs_stay_accepted() {
    let node = Node::new();
    let mut conf = node.conf("0.3.1");
    // The Go plugin writes empty strings and zero numbers for unset fields.
    conf["host"]["netType"] = json!("");
    conf["host"]["bridge"]["vlanId"] = json!(0);
    conf["container"]["memif"] = json!({"role": "", "mode": "", "socketfile": ""});
    let (res, code) = cni("ADD", ID, "net1", &conf);
    assert_eq!(code, 0, "{res}");
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
}

#[test]
fn add_with_a_netns_that_does_not_exist_is_error_4_before_anything_is_allocated() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let (res, code) = cni_env(
        "ADD",
        ID,
        "net1",
        &conf,
        &[("CNI_NETNS", "/var/run/netns/no-such-ns")],
    );
    expect_error(&res, code, 4, "missing netns");
    assert!(res["msg"].as_str().unwrap().contains("no-such-ns"), "{res}");
    node.assert_no_residue("after the refused ADD");
}

#[test]
fn check_compares_prev_result_with_what_add_made() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let (added, code) = cni("ADD", ID, "net1", &conf);
    assert_eq!(code, 0, "{added}");
    assert_eq!(cni("CHECK", ID, "net1", &with_prev(&conf, &added)).1, 0);

    let (res, code) = cni("CHECK", ID, "net1", &with_prev(&conf, &json!("garbage")));
    expect_error(&res, code, 7, "garbage prevResult");
    let mut other_ip = added.clone();
    other_ip["ips"][0]["address"] = json!("10.77.0.200/24");
    let (res, code) = cni("CHECK", ID, "net1", &with_prev(&conf, &other_ip));
    assert_ne!(code, 0);
    assert!(
        res["msg"].as_str().unwrap().contains("10.77.0.200/24"),
        "{res}"
    );
    let mut other_mac = added.clone();
    other_mac["interfaces"][0]["mac"] = json!("02:00:00:00:00:01");
    let (res, code) = cni("CHECK", ID, "net1", &with_prev(&conf, &other_mac));
    assert_ne!(code, 0);
    assert!(res["msg"].as_str().unwrap().contains("MAC"), "{res}");
    let (res, code) = cni("CHECK", ID, "net1", &conf);
    expect_error(&res, code, 7, "CHECK without prevResult");
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
}

#[test]
fn check_before_any_add_and_a_failed_add_leave_no_lock_or_state() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let (res, code) = cni(
        "CHECK",
        ID,
        "net1",
        &with_prev(&conf, &json!({"cniVersion": "1.0.0"})),
    );
    expect_error(&res, code, 3, "CHECK before ADD");
    node.assert_no_residue("after CHECK before ADD");
    let mut full = conf.clone();
    full["ipam"]["rangeStart"] = json!("10.77.0.9");
    full["ipam"]["rangeEnd"] = json!("10.77.0.9");
    assert_eq!(cni("ADD", "other", "net1", &full).1, 0);
    assert_ne!(cni("ADD", ID, "net1", &full).1, 0, "no address left");
    assert!(!node.path(&format!("state/{ID}@net1.lock")).exists());
    assert!(!node.path(&format!("state/{ID}@net1.json")).exists());
    assert_eq!(cni("DEL", "other", "net1", &full).1, 0);
    node.assert_no_residue("after the failed ADD");
}

#[test]
fn disable_check_and_disable_gc_are_honoured() {
    let node = Node::new();
    let mut conf = node.conf("1.1.0");
    conf["disableCheck"] = json!(true);
    conf["disableGC"] = json!(true);
    conf["cniVersions"] = json!(["1.0.0", "1.1.0"]);
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    assert_eq!(cni("CHECK", ID, "net1", &conf).1, 0, "nothing is checked");
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    assert_eq!(cni("GC", "", "", &gc).1, 0);
    assert_eq!(node.db.rows("Port"), 1, "nothing is collected");
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
}

/// An IPAM delegate that speaks 1.1.0 gets STATUS and GC; Debian's host-local (1.0.0) cannot.
#[test]
fn status_and_gc_are_forwarded_to_an_ipam_plugin_that_speaks_1_1() {
    let node = Node::new();
    let bin = node.path("cni-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fake-ipam-1.1.sh"
    );
    std::fs::copy(script, bin.join("fake-ipam")).unwrap();
    let log = node.path("ipam-calls.log");
    let mut conf = node.conf("1.1.0");
    conf["ipam"] = json!({"type": "fake-ipam"});
    let env = [
        ("CNI_PATH", bin.to_str().unwrap()),
        ("FAKE_IPAM_LOG", log.to_str().unwrap()),
    ];
    assert_eq!(cni_env("STATUS", "", "", &conf, &env).1, 0);
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    assert_eq!(cni_env("GC", "", "", &gc, &env).1, 0);
    let calls = std::fs::read_to_string(&log).unwrap();
    let verbs: Vec<&str> = calls.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(verbs, ["VERSION", "STATUS", "VERSION", "GC"], "{calls}");
}
