//! The plugin's core under hostile timing and input: a kill at every step boundary of ADD and
//! DEL and at random moments, processes racing on one attachment, attachments whose names
//! collide, bridges removed in any order, GC without its list. Real ovsdb-server and
//! host-local; the node's residue check (lease, port, socket, temp file, mount, alias, lock,
//! claim, state) after each.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use serde_json::json;
use support::node::{ID, Node, cni, cni_env, with_prev};
use userspace_plugin::attachment::journal::StepKind;

/// The places a kill is injected at: every step kind of the journal (whatever kinds it
/// gains later), each occurrence, before and after its effect; and the commit.
fn add_crash_points() -> Vec<String> {
    let mut v: Vec<String> = StepKind::ALL
        .iter()
        .flat_map(|k| (0..4).map(move |n| (k.as_str(), n)))
        .flat_map(|(k, n)| ["before", "after"].map(|p| format!("{k}#{n}:{p}")))
        .collect();
    v.push("commit#0:before".into());
    v.push("commit#0:after".into());
    v
}

fn crash_points_with(prefix: &str) -> Vec<String> {
    StepKind::ALL
        .iter()
        .flat_map(|k| (0..4).map(move |n| (k.as_str(), n)))
        .flat_map(|(k, n)| ["before", "after"].map(|p| format!("{prefix}{k}#{n}:{p}")))
        .collect()
}

/// A node whose ports are `dpdkvhostuser` would need ovs-vswitchd; client mode covers the
/// port step, the alias comes from a long sharedDir, device-info from the runtime config.
fn hostile_conf(node: &Node) -> serde_json::Value {
    let mut conf = node.conf("1.0.0");
    conf["sharedDir"] = json!(node.path(&"d".repeat(80)));
    conf["runtimeConfig"] = json!({"CNIDeviceInfoFile": node.path("devinfo/net1.json")});
    conf
}

fn assert_clean(node: &Node, what: &str) {
    node.assert_no_residue(what);
    assert!(node.files(&"d".repeat(80)).is_empty(), "{what}: shared dir");
    assert!(node.files("devinfo").is_empty(), "{what}: device-info");
}

#[test]
fn a_kill_at_every_step_boundary_of_add_then_del_leaves_nothing() {
    let node = Node::new();
    let conf = hostile_conf(&node);
    let mut hit = 0;
    for at in add_crash_points() {
        let (_, code) = cni_env("ADD", ID, "net1", &conf, &[("USERSPACE_CRASH_AT", &at)]);
        if code == 0 {
            // No such occurrence: the ADD ran through; undo it and go on.
            assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
            continue;
        }
        hit += 1;
        let (res, code) = cni("DEL", ID, "net1", &conf);
        assert_eq!(code, 0, "DEL after a kill at {at}: {res}");
        assert_clean(&node, &at);
    }
    // claim ×2, alias, lease, port, files ×3, commit: all reached, both phases.
    assert!(hit >= 18, "only {hit} crash points were reached");
}

#[test]
fn a_kill_at_every_step_boundary_of_del_then_del_again_leaves_nothing() {
    let node = Node::new();
    let conf = hostile_conf(&node);
    let mut hit = 0;
    for at in crash_points_with("undo-") {
        assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
        let (_, code) = cni_env("DEL", ID, "net1", &conf, &[("USERSPACE_CRASH_AT", &at)]);
        hit += usize::from(code != 0);
        let (res, code) = cni("DEL", ID, "net1", &conf);
        assert_eq!(code, 0, "DEL after a kill at {at}: {res}");
        assert_clean(&node, &at);
    }
    assert!(hit >= 16, "only {hit} crash points were reached");
}

#[test]
fn a_kill_at_random_moments_during_thirty_adds_then_del_leaves_nothing() {
    let node = Node::new();
    let conf = hostile_conf(&node);
    let bin = env!("CARGO_BIN_EXE_userspace");
    // A fixed LCG: the same delays on every run, spread over an ADD's lifetime.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..30 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((x >> 33) % 12_000);
        let mut child = support::spawn_plugin(bin, "ADD", ID, "net1", &conf.to_string());
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let (res, code) = cni("DEL", ID, "net1", &conf);
        assert_eq!(code, 0, "round {round} ({delay:?}): {res}");
        assert_clean(&node, &format!("round {round}, killed after {delay:?}"));
    }
}

#[test]
fn eight_processes_racing_add_and_del_on_one_attachment_leave_it_consistent() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    for round in 0..3 {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let conf = conf.clone();
                std::thread::spawn(move || {
                    let verb = if (i + round) % 2 == 0 { "ADD" } else { "DEL" };
                    (verb, cni(verb, ID, "net1", &conf))
                })
            })
            .collect();
        for h in handles {
            let (verb, (res, code)) = h.join().unwrap();
            if verb == "DEL" {
                assert_eq!(code, 0, "DEL always succeeds: {res}");
            } else if code != 0 {
                assert!(
                    res["msg"].as_str().unwrap().contains("already attached"),
                    "an ADD may only lose to another: {res}"
                );
            }
        }
        // Either attached (one port, one lease, one journal) or not at all.
        let ports = node.db.rows("Port");
        let leases = node.leases().len();
        let attached = node.path(&format!("state/{ID}@net1.json")).exists();
        assert_eq!(
            (ports, leases),
            if attached { (1, 1) } else { (0, 0) },
            "round {round}: a lease without an attachment or the other way round"
        );
        assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
        node.assert_no_residue(&format!("round {round}"));
    }
}

#[test]
fn del_of_an_attachment_never_added_leaves_one_whose_dashed_name_was_the_same() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let (added, code) = cni("ADD", "pod-a", "net1", &conf);
    assert_eq!(code, 0, "{added}");
    assert_eq!(cni("DEL", "pod", "a-net1", &conf).1, 0);
    assert_eq!(node.db.ports("br0"), ["pod-a-net1"]);
    assert_eq!(node.leases().len(), 1, "pod-a's lease stays");
    assert_eq!(
        cni("CHECK", "pod-a", "net1", &with_prev(&conf, &added)).1,
        0
    );
    assert_eq!(cni("DEL", "pod-a", "net1", &conf).1, 0);
    node.assert_no_residue("after both");
}

#[test]
fn a_container_sharing_the_id_prefix_gets_distinct_names_and_never_touches_the_first() {
    let node = Node::new();
    let conf = node.conf("1.1.0");
    let other = format!("{}ffff", &ID[..12]);
    let (res, code) = cni("ADD", ID, "net1", &conf);
    assert_eq!(code, 0, "{res}");
    let first = res.clone();
    let first_socket = res["interfaces"][0]["socketPath"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_files = node.files("shared");
    // The second one's ADD fails (no addresses left for it) after its names are chosen.
    let mut full = conf.clone();
    full["ipam"]["rangeStart"] = json!("10.77.0.2");
    full["ipam"]["rangeEnd"] = json!("10.77.0.2");
    let (res, code) = cni("ADD", &other, "net1", &full);
    assert_ne!(code, 0, "{res}");
    assert_eq!(
        node.files("shared"),
        first_files,
        "nothing of the first's was touched"
    );
    // With an address, it gets its own names.
    let (res, code) = cni("ADD", &other, "net1", &conf);
    assert_eq!(code, 0, "{res}");
    let second_socket = res["interfaces"][0]["socketPath"].as_str().unwrap();
    assert_ne!(second_socket, first_socket);
    assert_eq!(node.db.ports("br0").len(), 2);
    assert_eq!(cni("DEL", &other, "net1", &conf).1, 0);
    assert_eq!(node.files("shared"), first_files, "the first's files stay");
    assert_eq!(cni("CHECK", ID, "net1", &with_prev(&conf, &first)).1, 0);
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
    node.assert_no_residue("after both");
}

#[test]
fn a_plugin_made_bridge_goes_with_its_last_port_whatever_the_order_of_dels() {
    let node = Node::new();
    let conf = node.conf("1.0.0");
    assert_eq!(cni("ADD", "first", "net1", &conf).1, 0);
    assert_eq!(cni("ADD", "second", "net1", &conf).1, 0);
    assert_eq!(node.db.bridges(), ["br0"]);
    // The one that created the bridge goes first.
    assert_eq!(cni("DEL", "first", "net1", &conf).1, 0);
    assert_eq!(node.db.bridges(), ["br0"], "a port is still on it");
    assert_eq!(cni("DEL", "second", "net1", &conf).1, 0);
    assert!(
        node.db.bridges().is_empty(),
        "the last DEL removed the bridge"
    );
}

#[test]
fn an_operators_bridge_stays_when_its_last_plugin_port_goes() {
    let node = Node::new();
    node.db.add_netdev_bridge("br0");
    let conf = node.conf("1.0.0");
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
    assert_eq!(node.db.bridges(), ["br0"]);
}

#[test]
fn gc_without_the_valid_attachments_key_deletes_nothing() {
    let node = Node::new();
    let conf = node.conf("1.1.0");
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    let (res, code) = cni("GC", "", "", &conf);
    assert_ne!(code, 0);
    assert_eq!(res["code"], 7, "{res}");
    assert!(
        res["msg"]
            .as_str()
            .unwrap()
            .contains("cni.dev/valid-attachments"),
        "{res}"
    );
    assert_eq!(node.db.rows("Port"), 1, "nothing was deleted");
    assert_eq!(node.leases().len(), 1);
}

#[test]
fn gc_accepts_the_earlier_spelling_cni_dev_attachments() {
    let node = Node::new();
    let conf = node.conf("1.1.0");
    assert_eq!(cni("ADD", "keep", "net1", &conf).1, 0);
    assert_eq!(cni("ADD", "stale", "net1", &conf).1, 0);
    let mut gc = conf.clone();
    gc["cni.dev/attachments"] = json!([{"containerID": "keep", "ifname": "net1"}]);
    let (res, code) = cni("GC", "", "", &gc);
    assert_eq!(code, 0, "{res}");
    assert_eq!(node.db.ports("br0"), ["keep-net1"]);
}

#[test]
fn a_long_shared_dir_gets_an_alias_per_attachment_under_the_alias_root() {
    let node = Node::new();
    let conf = hostile_conf(&node);
    let (res, code) = cni("ADD", ID, "net1", &conf);
    assert_eq!(code, 0, "{res}");
    let alias = node.path("vs/4d578250ad8d-net1");
    assert_eq!(
        node.db.vsctl_ok(&[
            "get",
            "Interface",
            "4d578250ad8d-net1",
            "options:vhost-server-path"
        ]),
        format!("\"{}\"", alias.join("4d578250ad8d-net1").display())
    );
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
    assert_clean(&node, "after DEL");
}

#[test]
fn what_the_pod_reads_is_readable_whatever_the_runtimes_umask() {
    use std::os::unix::fs::PermissionsExt;
    let node = Node::new();
    let conf = node.conf("1.0.0");
    let (res, code) = support::run_plugin_with_umask(0o077, "ADD", ID, "net1", &conf.to_string());
    assert_eq!(code, 0, "{res}");
    let mode = |p: &str| {
        let f = node.path(p);
        (
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            f,
        )
    };
    let (m, f) = mode("shared/4d578250ad8d");
    assert_eq!(m, 0o750, "{}", f.display());
    for file in [
        "shared/4d578250ad8d/configData-4d578250ad8d-net1.json",
        "shared/4d578250ad8d/4d578250ad8d-net1-ip4.conf",
    ] {
        let (m, f) = mode(file);
        assert_eq!(m, 0o644, "{}", f.display());
    }
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
}

/// What a power cut or a full disk leaves: the journal and every claim of a real ADD emptied.
/// DEL still removes the OVS port (by its `external_ids`), the lease (IPAM's DEL), the files,
/// the alias and the claims.
#[test]
fn a_journal_and_claims_emptied_by_a_power_cut_are_deleted_by_the_port_tags() {
    let node = Node::new();
    let conf = hostile_conf(&node);
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    let state = node.path("state");
    std::fs::write(state.join(format!("{ID}@net1.json")), b"").unwrap();
    for c in std::fs::read_dir(state.join("claims")).unwrap().flatten() {
        std::fs::write(c.path(), b"").unwrap();
    }
    let (res, code) = cni("DEL", ID, "net1", &conf);
    assert_eq!(code, 0, "{res}");
    assert_clean(&node, "journal and claims emptied");
}

/// A real ADD's journal cut at each line boundary and every 61st byte (the every-byte sweep
/// runs against the fake switch in `recovery.rs`).
#[test]
fn a_journal_cut_anywhere_on_a_real_switch_is_deleted_whole() {
    let node = Node::new();
    let conf = hostile_conf(&node);
    let journal = node.path(&format!("state/{ID}@net1.json"));
    assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
    let text = std::fs::read(&journal).unwrap();
    assert_eq!(cni("DEL", ID, "net1", &conf).1, 0);
    let mut cuts: Vec<usize> = (0..text.len()).step_by(61).collect();
    cuts.extend(
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    for cut in cuts {
        assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&journal)
            .unwrap();
        f.set_len(cut as u64).unwrap();
        let (res, code) = cni("DEL", ID, "net1", &conf);
        assert_eq!(code, 0, "cut at {cut}: {res}");
        assert_clean(&node, &format!("journal cut at {cut}"));
    }
}

/// GC killed at every step of its undo, and between removing a journal and its lock: the next
/// GC leaves no file, port or lease.
#[test]
fn gc_killed_at_every_step_leaves_nothing_after_the_next_gc() {
    let node = Node::new();
    let mut conf = hostile_conf(&node);
    conf["cniVersion"] = json!("1.1.0");
    conf["cni.dev/valid-attachments"] = json!([]);
    let mut points = crash_points_with("undo-");
    points.push("gc-journal#0:after".into());
    let mut hit = 0;
    for at in points {
        assert_eq!(cni("ADD", ID, "net1", &conf).1, 0);
        let (_, code) = cni_env("GC", ID, "net1", &conf, &[("USERSPACE_CRASH_AT", &at)]);
        hit += usize::from(code != 0);
        let (res, code) = cni("GC", ID, "net1", &conf);
        assert_eq!(code, 0, "GC after a kill at {at}: {res}");
        assert_clean(&node, &format!("GC killed at {at}"));
    }
    assert!(hit >= 16, "only {hit} crash points were reached");
}
