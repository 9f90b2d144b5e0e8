//! What a power cut, a full disk or a cut write leaves in the state directory, and input a
//! runtime may send: DEL and GC still finish, remove everything provably the attachment's and
//! nothing another's. In-process against the recording fake switch (its tags stand for OVS's
//! `external_ids`), with a long sharedDir so every ADD also mounts an alias; the real switch's
//! side of the same is in `core.rs`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use userspace_plugin::engine::fake::FakeSwitch;
use userspace_test_support::cni_vars;

const A: &str = "4d578250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";
const B: &str = "5e678250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";
const C: &str = "6f778250ad8d3b5c1a7e6f90123456789abcdef0123456789abcdef012345678";

struct Node {
    dir: tempfile::TempDir,
    switch: FakeSwitch,
}

impl Node {
    fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("recovery")
                .tempdir_in("/tmp")
                .unwrap(),
            switch: FakeSwitch::new(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn conf(&self) -> Value {
        json!({
            "cniVersion": "1.1.0", "name": "fake-net", "type": "userspace",
            "sharedDir": self.path(&"d".repeat(80)), "stateDir": self.path("state"),
            "socketAliasRoot": self.path("vs"),
            "runtimeConfig": {"CNIDeviceInfoFile": self.path("devinfo/net1.json")},
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}}
        })
    }

    fn run(&self, verb: &str, id: &str, conf: &Value) -> (Value, i32) {
        let env = cni_vars(verb, id, "net1", "");
        let out = userspace_plugin::run_with(&env, conf.to_string().as_bytes(), &self.switch);
        (
            serde_json::from_str(&out.stdout).unwrap_or(Value::Null),
            out.code,
        )
    }

    fn add(&self, id: &str) {
        let (res, code) = self.run("ADD", id, &self.conf());
        assert_eq!(code, 0, "ADD {id}: {res}");
    }

    fn del(&self, id: &str, what: &str) {
        let (res, code) = self.run("DEL", id, &self.conf());
        assert_eq!(code, 0, "DEL {id} ({what}): {res}");
    }

    fn gc(&self, valid: &[&str]) -> (Value, i32) {
        let mut conf = self.conf();
        conf["cni.dev/valid-attachments"] = valid
            .iter()
            .map(|id| json!({"containerID": id, "ifname": "net1"}))
            .collect();
        self.run("GC", "", &conf)
    }

    fn journal(&self, id: &str) -> PathBuf {
        self.path(&format!("state/{id}@net1.json"))
    }

    fn claims(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(self.path("state/claims"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Every file or directory left in the node's directories (the roots themselves may
    /// stay), mounts under them, and ports.
    fn residue(&self) -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<String>) {
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                out.push(e.path().display().to_string());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                }
            }
        }
        let mut v = Vec::new();
        for root in fs::read_dir(self.dir.path()).unwrap().flatten() {
            if root.file_type().unwrap().is_dir() {
                walk(&root.path(), &mut v);
            } else {
                v.push(root.path().display().to_string());
            }
        }
        let here = self.dir.path().display().to_string();
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        v.extend(
            mounts
                .lines()
                .filter(|l| l.contains(&here))
                .map(|l| format!("mount: {l}")),
        );
        v.extend(
            self.switch
                .state()
                .ports
                .keys()
                .map(|p| format!("port: {p}")),
        );
        v
    }

    fn assert_clean(&self, what: &str) {
        let r = self.residue();
        assert!(r.is_empty(), "{what}: left {r:#?}");
    }
}

/// Overwrites `path` with `bytes`, or cuts it to `len` bytes.
fn damage(path: &Path, bytes: Option<&[u8]>, len: usize) {
    match bytes {
        Some(b) => fs::write(path, b).unwrap(),
        None => fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(len as u64)
            .unwrap(),
    }
}

/// The ways a disk can lie about a file of `len` bytes.
fn corruptions(len: usize) -> Vec<(String, Vec<u8>)> {
    let garbage: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(151).wrapping_add(7))
        .collect();
    vec![
        ("zeros".into(), vec![b'0'; len]),
        ("NUL bytes".into(), vec![0; len]),
        ("garbage".into(), garbage.clone()),
        (
            "garbage without a newline".into(),
            b"{\"version\":2,garbage".to_vec(),
        ),
        ("garbage lines".into(), b"garbage\nmore garbage\n".to_vec()),
    ]
}

#[test]
fn a_journal_cut_at_every_byte_offset_is_still_deleted_whole() {
    let node = Node::new();
    node.add(A);
    let len = fs::metadata(node.journal(A)).unwrap().len() as usize;
    node.del(A, "whole");
    for cut in 0..len {
        node.add(A);
        damage(&node.journal(A), None, cut);
        node.del(A, &format!("journal cut at {cut} of {len}"));
        node.assert_clean(&format!("journal cut at {cut} of {len}"));
    }
}

#[test]
fn a_journal_replaced_by_zeros_nul_bytes_or_garbage_is_still_deleted_whole() {
    let node = Node::new();
    node.add(A);
    let len = fs::metadata(node.journal(A)).unwrap().len() as usize;
    node.del(A, "whole");
    for (what, bytes) in corruptions(len) {
        node.add(A);
        damage(&node.journal(A), Some(&bytes), 0);
        node.del(A, &what);
        node.assert_clean(&format!("journal of {what}"));
    }
}

#[test]
fn a_garbage_line_in_the_middle_of_a_journal_does_not_wedge_del() {
    let node = Node::new();
    node.add(A);
    let text = fs::read_to_string(node.journal(A)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "garbage";
    fs::write(node.journal(A), lines.join("\n") + "\n").unwrap();
    node.del(A, "garbage line");
    node.assert_clean("garbage line 4");
}

#[test]
fn each_claim_cut_at_every_byte_offset_or_corrupted_is_still_deleted_whole() {
    let node = Node::new();
    node.add(A);
    let claims: Vec<(usize, usize)> = node
        .claims()
        .iter()
        .enumerate()
        .map(|(i, p)| (i, fs::metadata(p).unwrap().len() as usize))
        .collect();
    node.del(A, "whole");
    assert!(claims.len() >= 3, "stem, directory and socket claims");
    for (i, len) in claims {
        let mut cases: Vec<(String, Option<Vec<u8>>, usize)> = (0..len)
            .map(|cut| (format!("claim {i} cut at {cut} of {len}"), None, cut))
            .collect();
        cases.extend(
            corruptions(len)
                .into_iter()
                .map(|(w, b)| (format!("claim {i} of {w}"), Some(b), 0)),
        );
        for (what, bytes, cut) in cases {
            node.add(A);
            damage(&node.claims()[i], bytes.as_deref(), cut);
            node.del(A, &what);
            node.assert_clean(&what);
        }
    }
}

#[test]
fn a_zero_byte_journal_and_zero_byte_claims_are_deleted_by_the_switch_tags_and_derived_names() {
    let node = Node::new();
    node.add(A);
    damage(&node.journal(A), Some(b""), 0);
    for c in node.claims() {
        damage(&c, Some(b""), 0);
    }
    node.del(A, "everything zero bytes");
    node.assert_clean("everything zero bytes");
}

#[test]
fn del_without_any_journal_removes_the_port_files_alias_and_claims() {
    let node = Node::new();
    node.add(A);
    fs::remove_file(node.journal(A)).unwrap();
    node.del(A, "journal deleted");
    node.assert_clean("journal deleted");
}

#[test]
fn a_damaged_journal_never_takes_what_a_sibling_with_the_same_id_prefix_holds() {
    let node = Node::new();
    // Same 12-character prefix and ifname: the second gets disambiguated names. (Each has
    // its own device-info path in life; this node's config names one for all.)
    let twin = format!("{}ffff", &A[..60]);
    node.add(A);
    node.add(&twin);
    fs::copy(node.path("devinfo/net1.json"), node.path("devinfo/keep")).unwrap();
    damage(&node.journal(&twin), Some(&[0; 64]), 0);
    node.del(&twin, "twin's journal of NUL bytes");
    fs::rename(node.path("devinfo/keep"), node.path("devinfo/net1.json")).unwrap();
    let ports: Vec<String> = node.switch.state().ports.keys().cloned().collect();
    assert_eq!(ports, ["4d578250ad8d-net1"], "the first's port stays");
    let (res, code) = node.run("CHECK", A, &{
        let mut c = node.conf();
        c["prevResult"] = node.run_result(A);
        c
    });
    assert_eq!(code, 0, "the first attachment is whole: {res}");
    node.del(A, "first");
    node.assert_clean("both deleted");
}

impl Node {
    /// The result the journal recorded, as a runtime's prevResult.
    fn run_result(&self, id: &str) -> Value {
        let text = fs::read_to_string(self.journal(id)).unwrap();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find_map(|v| v.get("commit").cloned())
            .unwrap()
    }
}

#[test]
fn gc_collects_a_damaged_journal_and_goes_on_with_the_others() {
    let node = Node::new();
    for id in [A, B, C] {
        node.add(id);
    }
    damage(&node.journal(A), Some(&[0; 100]), 0);
    let (res, code) = node.gc(&[C]);
    assert_eq!(code, 0, "GC: {res}");
    let ports: Vec<String> = node.switch.state().ports.keys().cloned().collect();
    assert_eq!(ports, [format!("{}-net1", &C[..12])]);
    node.del(C, "the kept one");
    node.assert_clean("after GC and the last DEL");
}

#[test]
fn gc_goes_on_past_a_zero_byte_claim_and_leaves_no_claim_nobody_can_release() {
    let node = Node::new();
    for id in [A, B] {
        node.add(id);
    }
    for c in node.claims() {
        damage(&c, Some(b""), 0);
    }
    let (res, code) = node.gc(&[]);
    assert_eq!(code, 0, "GC: {res}");
    node.assert_clean("after GC");
}

#[test]
fn gc_removes_claims_and_locks_whose_journals_are_gone() {
    let node = Node::new();
    node.add(A);
    node.add(B);
    fs::remove_file(node.journal(A)).unwrap();
    let (res, code) = node.gc(&[B]);
    assert_eq!(code, 0, "GC: {res}");
    assert_eq!(node.switch.state().ports.len(), 1, "A's port by its tags");
    node.del(B, "the kept one");
    node.assert_clean("after GC and the last DEL");
}

#[test]
fn del_with_a_prev_result_that_is_not_an_object_still_removes_everything() {
    let node = Node::new();
    for prev in [json!("garbage"), json!(5), json!([1, 2]), json!(true)] {
        node.add(A);
        let mut conf = node.conf();
        conf["prevResult"] = prev.clone();
        let (res, code) = node.run("DEL", A, &conf);
        assert_eq!(code, 0, "DEL with prevResult {prev}: {res}");
        node.assert_clean(&format!("prevResult {prev}"));
    }
}

#[test]
fn add_still_refuses_a_prev_result_that_is_not_an_object() {
    let node = Node::new();
    let mut conf = node.conf();
    conf["prevResult"] = json!("garbage");
    let (res, code) = node.run("ADD", A, &conf);
    assert_ne!(code, 0);
    assert_eq!(res["code"], 7, "{res}");
    assert!(res["msg"].as_str().unwrap().contains("prevResult"), "{res}");
}

#[test]
fn a_container_id_beginning_with_dash_or_underscore_is_refused_before_anything_is_made() {
    let node = Node::new();
    for id in ["-abc123", "_abc123", ".abc123"] {
        let (res, code) = node.run("ADD", id, &node.conf());
        assert_ne!(code, 0, "{id}");
        assert_eq!(res["code"], 4, "{id}: {res}");
        assert!(
            res["msg"].as_str().unwrap().contains("CNI_CONTAINERID"),
            "{res}"
        );
    }
    node.assert_clean("refused IDs");
}

#[test]
fn a_symlink_planted_at_the_alias_mount_point_is_replaced_not_followed() {
    let node = Node::new();
    let victim = node.path("victim");
    fs::create_dir_all(&victim).unwrap();
    fs::create_dir_all(node.path("vs")).unwrap();
    std::os::unix::fs::symlink(&victim, node.path(&format!("vs/{}-net1", &A[..12]))).unwrap();
    node.add(A);
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&victim.display().to_string()),
        "mounted over the link's target"
    );
    node.del(A, "alias was a symlink");
    assert!(fs::read_dir(&victim).unwrap().next().is_none());
    fs::remove_dir(&victim).unwrap();
    node.assert_clean("alias was a symlink");
}

#[test]
fn a_symlink_planted_at_the_alias_root_is_refused_and_the_add_rolls_back() {
    let node = Node::new();
    let victim = node.path("victim");
    fs::create_dir_all(&victim).unwrap();
    std::os::unix::fs::symlink(&victim, node.path("vs")).unwrap();
    let (res, code) = node.run("ADD", A, &node.conf());
    assert_ne!(code, 0);
    assert!(res["msg"].as_str().unwrap().contains("symlink"), "{res}");
    assert!(fs::read_dir(&victim).unwrap().next().is_none());
    fs::remove_file(node.path("vs")).unwrap();
    fs::remove_dir(&victim).unwrap();
    node.assert_clean("refused alias root");
}

#[test]
fn gc_removes_a_lock_whose_journal_a_killed_gc_already_removed() {
    let node = Node::new();
    node.add(A);
    // What a GC killed between removing the journal and its lock leaves: the lock alone.
    fs::write(node.path(&format!("state/{B}@net1.lock")), b"").unwrap();
    let (res, code) = node.gc(&[A]);
    assert_eq!(code, 0, "GC: {res}");
    assert!(!node.path(&format!("state/{B}@net1.lock")).exists());
    node.del(A, "the kept one");
    node.assert_clean("after GC and the last DEL");
}

#[test]
fn check_of_a_damaged_journal_says_so_and_names_the_remedy() {
    let node = Node::new();
    node.add(A);
    let mut conf = node.conf();
    conf["prevResult"] = node.run_result(A);
    damage(&node.journal(A), Some(&[0; 64]), 0);
    let (res, code) = node.run("CHECK", A, &conf);
    assert_ne!(code, 0);
    let msg = res["msg"].as_str().unwrap();
    assert!(msg.contains("damaged") && msg.contains("DEL"), "{res}");
    node.del(A, "after CHECK");
    node.assert_clean("after CHECK and DEL");
}
