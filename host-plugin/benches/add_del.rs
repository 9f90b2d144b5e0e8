//! ADD and DEL latency of the `userspace` binary, side by side with host-local alone (the
//! plugin's own cost is the difference) and with the ovs-vsctl sequence the Go plugin runs for
//! the same attachment; where the time goes (process start and the phases the plugin's
//! `USERSPACE_PROFILE` reports); and the instructions per ADD and DEL (callgrind), the figure
//! that does not move with the machine's load. OVS engine against a private ovsdb-server, and
//! VPP against the fake VPP API server.
//!
//! Run: `cargo bench -p userspace --bench add_del` (needs ovsdb-server, host-local, valgrind);
//! `BENCH_N` sets the runs per line, `BENCH_CALLGRIND_DIR` keeps the callgrind profiles.

#[path = "../tests/support/mod.rs"]
#[allow(clippy::unwrap_used)]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use userspace_test_support::ovs::Ovs;

const PLUGIN: &str = env!("CARGO_BIN_EXE_userspace");
const HOST_LOCAL: &str = "/usr/lib/cni/host-local";
/// The phases the plugin's profile reports, in the order printed.
const PHASES: [&str; 7] = ["state", "commit", "dirs", "ipam", "switch", "files", "kube"];

/// One invocation's wall time and, when profiled, its phases in microseconds.
struct Run {
    wall: Duration,
    phases: BTreeMap<String, u64>,
}

fn main() {
    // BENCH_N for a quick look; the figures in the README use the default.
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let db = Ovs::start_db("ovs");
    let dir = tempfile::Builder::new()
        .prefix("bench")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let d = dir.path();
    let ovs_conf = json!({
        "cniVersion": "1.0.0", "name": "bench", "type": "userspace",
        "ovsdbSocket": db.endpoint(), "sharedDir": d.join("shared"), "stateDir": d.join("state"),
        "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}},
        "ipam": {"type": "host-local", "subnet": "10.88.0.0/16", "dataDir": d.join("ipam")}
    })
    .to_string();
    let vpp = vpp_api::fake::FakeVpp::start(d.join("vpp-api.sock")).expect("fake VPP");
    let vpp_conf = json!({
        "cniVersion": "1.0.0", "name": "bench-vpp", "type": "userspace",
        "vppApiSocket": vpp.path(), "sharedDir": d.join("shared"), "stateDir": d.join("state"),
        "host": {"engine": "vpp", "iftype": "memif", "netType": "bridge", "memif": {"role": "master", "mode": "ethernet"}, "bridge": {"bridgeName": "4"}},
        "container": {"engine": "vpp", "iftype": "memif", "netType": "interface"},
        "ipam": {"type": "host-local", "subnet": "10.87.0.0/16", "dataDir": d.join("ipam")}
    })
    .to_string();
    let ipam_conf = json!({"cniVersion": "1.0.0", "name": "bench-ipam", "ipam": {"type": "host-local", "subnet": "10.89.0.0/16", "dataDir": d.join("ipam")}}).to_string();
    // The bridges exist, as in a running cluster.
    for br in ["br0", "br1"] {
        db.add_netdev_bridge(br);
    }

    let mut t: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    // Interleaved, so that a slow moment of the machine hits every line alike.
    for i in 0..n {
        let id = format!("{i:012x}feedc0de");
        t.entry("version")
            .or_default()
            .push(cni(PLUGIN, "VERSION", &id, ""));
        t.entry("add")
            .or_default()
            .push(cni(PLUGIN, "ADD", &id, &ovs_conf));
        t.entry("del")
            .or_default()
            .push(cni(PLUGIN, "DEL", &id, &ovs_conf));
        t.entry("vpp add")
            .or_default()
            .push(cni(PLUGIN, "ADD", &id, &vpp_conf));
        t.entry("vpp del")
            .or_default()
            .push(cni(PLUGIN, "DEL", &id, &vpp_conf));
        t.entry("ipam add")
            .or_default()
            .push(cni(HOST_LOCAL, "ADD", &id, &ipam_conf));
        t.entry("ipam del")
            .or_default()
            .push(cni(HOST_LOCAL, "DEL", &id, &ipam_conf));
        t.entry("exec floor")
            .or_default()
            .push(cni("/bin/true", "VERSION", &id, ""));
        t.entry("fsync floor")
            .or_default()
            .push(fsync_append(&d.join("fsync-floor")));
        let (add, del) = go_sequence(&db, d, &id, &ipam_conf);
        t.entry("go add").or_default().push(add);
        t.entry("go del").or_default().push(del);
    }
    let residue = db.rows("Port") - 2 + db.ports("br0").len();
    let m = |k: &str| median(t[k].iter().map(|r| r.wall).collect());

    println!(
        "CNI ADD/DEL of one port, {n} runs each (interleaved), 2 cores, {}; OVS: private ovsdb-server (no vswitchd); VPP: the fake VPP API server",
        date()
    );
    println!("| operation | median | p99 | vs. Go plugin's ovs-vsctl sequence |");
    println!("|---|---|---|---|");
    let go_add = m("go add");
    let go_del = m("go del");
    for (name, key, base) in [
        (
            "ADD, OVS: userspace (one OVSDB transaction + host-local)",
            "add",
            Some(go_add),
        ),
        (
            "ADD, OVS: ovs-vsctl find + add-port + find mac, + host-local",
            "go add",
            None,
        ),
        ("DEL, OVS: userspace", "del", Some(go_del)),
        (
            "DEL, OVS: ovs-vsctl del-port + list-ports, + host-local",
            "go del",
            None,
        ),
        ("ADD, VPP (fake): userspace", "vpp add", None),
        ("DEL, VPP (fake): userspace", "vpp del", None),
        ("host-local ADD alone", "ipam add", None),
        ("host-local DEL alone", "ipam del", None),
        ("process start: userspace VERSION", "version", None),
        (
            "floor: spawn of /bin/true (what any exec'd plugin pays)",
            "exec floor",
            None,
        ),
        (
            "floor: one fdatasync of a 100-byte append, state dir's filesystem",
            "fsync floor",
            None,
        ),
    ] {
        let v: Vec<Duration> = t[key].iter().map(|r| r.wall).collect();
        let ratio = base.map_or("-".to_owned(), |b| {
            format!("{:.2}x", median(v.clone()).as_secs_f64() / b.as_secs_f64())
        });
        println!(
            "| {name} | {} | {} | {ratio} |",
            ms(median(v.clone())),
            ms(p99(v))
        );
    }

    println!("\nWhere the plugin's time goes (median per phase, from USERSPACE_PROFILE):");
    println!(
        "| verb | process start | {} | other | own cost beyond host-local |",
        PHASES.join(" | ")
    );
    println!("|---|---|{}---|---|", "---|".repeat(PHASES.len()));
    let start = m("version");
    for (verb, key, ipam) in [
        ("ADD, OVS", "add", "ipam add"),
        ("DEL, OVS", "del", "ipam del"),
        ("ADD, VPP", "vpp add", "ipam add"),
        ("DEL, VPP", "vpp del", "ipam del"),
    ] {
        let phases: Vec<Duration> = PHASES.iter().map(|p| phase_median(&t[key], p)).collect();
        let inside = phase_median(&t[key], "total");
        let other = inside.saturating_sub(phases.iter().sum());
        let cols: Vec<String> = phases.iter().map(|d| ms(*d)).collect();
        println!(
            "| {verb} | {} | {} | {} | {} |",
            ms(start),
            cols.join(" | "),
            ms(other),
            ms(m(key).saturating_sub(m(ipam)))
        );
    }

    let (ia, id_, iv) = (
        instructions(&ovs_conf, "ADD"),
        instructions(&ovs_conf, "DEL"),
        instructions("", "VERSION"),
    );
    println!(
        "\ninstructions per invocation (callgrind, the plugin's process only, host-local not traced): ADD {}, DEL {}",
        thousands(ia),
        thousands(id_)
    );
    // The floor: the same binary's VERSION, i.e. its process start, reading of stdin and the
    // environment, and one reply; what ADD and DEL execute beyond it is the verbs' own work.
    println!(
        "own cost in instructions beside the floor (VERSION {}): ADD {} ({:.2}x the floor), DEL {} ({:.2}x); target 800,000 each: {}",
        thousands(iv),
        thousands(ia.saturating_sub(iv)),
        ia as f64 / iv.max(1) as f64,
        thousands(id_.saturating_sub(iv)),
        id_ as f64 / iv.max(1) as f64,
        if ia <= 800_000 && id_ <= 800_000 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("ports left in br0 after the run: {residue}");
    // What no exec'd plugin with a durable journal and a switch can go below on this machine.
    let switch = phase_median(&t["add"], "switch");
    println!(
        "floor of an ADD's own cost here (spawn of /bin/true + one fdatasync + the one OVSDB transaction): {}",
        ms(m("exec floor") + m("fsync floor") + switch)
    );
    println!(
        "own cost beyond host-local (median): ADD {:.2} ms, DEL {:.2} ms",
        m("add").saturating_sub(m("ipam add")).as_secs_f64() * 1e3,
        m("del").saturating_sub(m("ipam del")).as_secs_f64() * 1e3
    );
}

/// The Go plugin's ovs-vsctl sequence for one attachment, with the same host-local exec.
fn go_sequence(db: &Ovs, d: &std::path::Path, id: &str, ipam: &str) -> (Run, Run) {
    let port = format!("{}-net1", &id[..12]);
    let sock = d.join("shared").join(&port).display().to_string();
    let t = Instant::now();
    db.vsctl_ok(&["--bare", "--columns=name", "find", "bridge", "name=br1"]);
    db.vsctl_ok(&[
        "add-port",
        "br1",
        &port,
        "--",
        "set",
        "Interface",
        &port,
        "type=dpdkvhostuserclient",
        &format!("options:vhost-server-path={sock}"),
    ]);
    db.vsctl_ok(&[
        "--bare",
        "--columns=mac",
        "find",
        "port",
        &format!("name={port}"),
    ]);
    cni(HOST_LOCAL, "ADD", id, ipam);
    let add = t.elapsed();
    let t = Instant::now();
    db.vsctl_ok(&["--if-exists", "del-port", "br1", &port]);
    db.vsctl_ok(&["list-ports", "br1"]);
    cni(HOST_LOCAL, "DEL", id, ipam);
    let del = t.elapsed();
    let run = |wall| Run {
        wall,
        phases: BTreeMap::new(),
    };
    (run(add), run(del))
}

/// One append and `fdatasync`, as the journal's commit does.
fn fsync_append(path: &std::path::Path) -> Run {
    let t = Instant::now();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("fsync floor file");
    f.write_all(&[b'x'; 100]).expect("append");
    f.sync_data().expect("fdatasync");
    Run {
        wall: t.elapsed(),
        phases: BTreeMap::new(),
    }
}

/// Runs one CNI invocation with the profile on; its wall time and reported phases.
fn cni(bin: &str, verb: &str, id: &str, stdin: &str) -> Run {
    let (wall, phases) = support::run_profiled(bin, verb, id, stdin);
    Run { wall, phases }
}

/// Instructions of one plugin invocation under callgrind (children not traced).
fn instructions(conf: &str, verb: &str) -> u64 {
    let id = "0ca11961d0000000feedc0de";
    if verb == "DEL" {
        cni(PLUGIN, "ADD", id, conf);
    }
    // BENCH_CALLGRIND_DIR keeps each profile (callgrind.<verb>) for callgrind_annotate.
    let out_file = std::env::var("BENCH_CALLGRIND_DIR").map_or("/dev/null".to_owned(), |d| {
        format!("{d}/callgrind.{}", verb.to_lowercase())
    });
    let mut child = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            &format!("--callgrind-out-file={out_file}"),
            PLUGIN,
        ])
        .env_clear()
        .env("CNI_COMMAND", verb)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "net1")
        .env("CNI_NETNS", "/proc/self/ns/net")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("valgrind is not installed: run `bash scripts/setup-host.sh`");
    if let Some(mut i) = child.stdin.take() {
        i.write_all(conf.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{verb} under callgrind failed");
    if verb == "ADD" {
        cni(PLUGIN, "DEL", id, conf);
    }
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.split("Collected :").nth(1)?.trim().parse().ok())
        .expect("callgrind printed no instruction count")
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn phase_median(runs: &[Run], phase: &str) -> Duration {
    median(
        runs.iter()
            .map(|r| Duration::from_micros(r.phases.get(phase).copied().unwrap_or(0)))
            .collect(),
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() * 99 / 100]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
