//! Scrape cost of the node agent: an empty node beside one with 1,000 OVS attachments (real
//! ADDs into a private ovsdb-server, every interface given counters), each agent monitoring
//! its own ovsdb-server. Prints a table, asserts nothing.
//!
//! `cargo bench -p userspace-node --bench scrape` (needs `ovsdb-server`; root for the plugin's
//! state and shared directories is not needed, they live in a temporary directory).

#![allow(clippy::unwrap_used)] // a bench: a failed unwrap is a failed run

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Agent, poll, sample};
use userspace_test_support::ovs::Ovs;

const ATTACHMENTS: usize = 1000;
const SCRAPES: usize = 200;
const SOAK: usize = 1000;

fn add(dir: &Path, ovsdb: &str, n: usize) {
    let conf = json!({
        "cniVersion": "1.0.0", "name": "bench", "type": "userspace", "ovsdbSocket": ovsdb,
        "sharedDir": dir.join("shared"), "stateDir": dir.join("state"), "socketAliasRoot": dir.join("vs"),
        "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
                 "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}}
    })
    .to_string();
    for i in 0..n {
        let id = format!("{i:064x}");
        let env: BTreeMap<String, String> = [
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", id.as_str()),
            ("CNI_IFNAME", "net1"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_PATH", "/usr/lib/cni"),
            (
                "CNI_ARGS",
                &format!("K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-{i}"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let out = userspace_plugin::run(&env, conf.as_bytes());
        assert_eq!(out.code, 0, "{}", out.stdout);
    }
}

/// Gives every interface counters, as ovs-vswitchd would (one ovs-vsctl transaction).
fn set_statistics(ovs: &Ovs) {
    let names = ovs.vsctl_ok(&["--no-wait", "--bare", "--columns=name", "list", "Interface"]);
    let mut args = vec!["--no-wait".to_owned()];
    for name in names.split_whitespace() {
        args.extend([
            "--".into(),
            "set".into(),
            "Interface".into(),
            name.into(),
            "statistics:rx_packets=123456".into(),
            "statistics:tx_packets=654321".into(),
            "statistics:rx_bytes=7901184".into(),
            "statistics:tx_bytes=41876544".into(),
            "statistics:rx_dropped=0".into(),
            "statistics:tx_dropped=3".into(),
            "statistics:rx_errors=0".into(),
            "statistics:tx_errors=0".into(),
            "link_state=up".into(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ovs.vsctl_ok(&args);
}

struct Proc {
    rss_kib: u64,
    cpu_ticks: u64,
}

fn proc_of(pid: u32) -> Proc {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let cpu_ticks = rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap();
    Proc { rss_kib, cpu_ticks }
}

struct Row {
    p50: Duration,
    p90: Duration,
    rss_kib: u64,
    /// `None`: less than one clock tick over all the scrapes.
    cpu_per_scrape: Option<Duration>,
    bytes: usize,
    soak_rss_kib: Option<u64>,
}

fn measure(agent: &Agent, soak: bool) -> Row {
    for _ in 0..5 {
        agent.get("/metrics", None);
    }
    let ticks = 1_000_000_000
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .unwrap()
            .unwrap() as u64;
    let before = proc_of(agent.child.id());
    let mut lat = Vec::with_capacity(SCRAPES);
    let mut bytes = 0;
    for _ in 0..SCRAPES {
        let t = Instant::now();
        let r = agent.get("/metrics", None);
        lat.push(t.elapsed());
        bytes = r.body.len();
    }
    let after = proc_of(agent.child.id());
    lat.sort();
    let soak_rss_kib = soak.then(|| {
        for _ in 0..SOAK {
            agent.get("/metrics", None);
        }
        proc_of(agent.child.id()).rss_kib
    });
    Row {
        p50: lat[SCRAPES / 2],
        p90: lat[SCRAPES * 9 / 10],
        rss_kib: after.rss_kib,
        cpu_per_scrape: (after.cpu_ticks > before.cpu_ticks).then(|| {
            Duration::from_nanos((after.cpu_ticks - before.cpu_ticks) * ticks / SCRAPES as u64)
        }),
        bytes,
        soak_rss_kib,
    }
}

fn tick_ms() -> f64 {
    1000.0
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .unwrap()
            .unwrap() as f64
}

fn main() {
    let empty_ovs = Ovs::start_db("benchempty");
    let full_ovs = Ovs::start_db("benchfull");
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("state")).unwrap();
    let full = tempfile::tempdir().unwrap();
    let t = Instant::now();
    add(full.path(), &full_ovs.endpoint(), ATTACHMENTS);
    set_statistics(&full_ovs);
    eprintln!("{ATTACHMENTS} ADDs and their counters in {:?}", t.elapsed());

    let a0 = Agent::start(
        &empty.path().join("state"),
        &["--ovsdb", &empty_ovs.endpoint()],
    );
    let a1 = Agent::start(
        &full.path().join("state"),
        &["--ovsdb", &full_ovs.endpoint()],
    );
    poll(
        "the full node's counters are exposed",
        Duration::from_secs(60),
        || {
            let b = a1.get("/metrics", None).body;
            let n = b
                .lines()
                .filter(|l| l.starts_with("userspace_attachment_rx_packets_total{"))
                .count();
            (n == ATTACHMENTS && sample(&b, "userspace_node_switch_reachable", &[]) == Some(1.0))
                .then_some(())
                .ok_or(format!("{n} attachments with counters"))
        },
    );
    let r0 = measure(&a0, false);
    let r1 = measure(&a1, true);
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
    println!("userspace-node scrape cost ({SCRAPES} scrapes each, Prometheus text, loopback)\n");
    println!("| node | scrape p50 | scrape p90 | CPU per scrape | RSS | exposition |");
    println!("|---|---|---|---|---|---|");
    for (name, r) in [("empty", &r0), ("1,000 attachments", &r1)] {
        println!(
            "| {name} | {} | {} | {} | {} | {} KiB |",
            ms(r.p50),
            ms(r.p90),
            r.cpu_per_scrape
                .map_or_else(|| format!("< {:.2} ms", tick_ms() / SCRAPES as f64), ms),
            mib(r.rss_kib),
            r.bytes / 1024
        );
    }
    println!(
        "| ratio | {:.1}x | {:.1}x | | {:.2}x | |",
        r1.p50.as_secs_f64() / r0.p50.as_secs_f64(),
        r1.p90.as_secs_f64() / r0.p90.as_secs_f64(),
        r1.rss_kib as f64 / r0.rss_kib as f64
    );
    if let Some(k) = r1.soak_rss_kib {
        println!(
            "\nRSS with 1,000 attachments after {} more scrapes: {} (was {})",
            SOAK,
            mib(k),
            mib(r1.rss_kib)
        );
    }
    println!(
        "CPU is the agent's utime+stime over the scrapes (clock ticks of {} ms).",
        tick_ms()
    );
}
