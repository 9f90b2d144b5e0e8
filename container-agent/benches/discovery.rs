//! Discovery + argument building for a pod with 8 userspace interfaces: time and peak RSS,
//! against the shell baseline it replaces (get-prefix.sh's sed/awk over mountinfo, which only
//! finds the container ID), measured in the same run.
//!
//! Run: `cargo bench -p userspace-agent --bench discovery`

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::json;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::DpdkVersion;
use userspace_cni_sdk::podinfo::downward;

const IFACES: usize = 8;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loc = fixture(dir.path());

    // In-process: the SDK call a Rust DPDK app makes.
    let in_proc = time(2000, || {
        let view = PodView::discover(&loc).expect("discover");
        let args = view
            .eal_builder(DpdkVersion::new(22, 11, 0), 1)
            .build()
            .expect("build");
        black_box(args);
    });

    // Baseline: the get-prefix.sh approach (container ID only, one runtime layout).
    let script = "sed -ne '/hostname/p' /proc/1/task/1/mountinfo | awk -F '/' '{print $6}'";
    let (shell_t, shell_rss) = spawn_stats(200, "/bin/sh", &["-c".into(), script.into()], &[]);

    // The agent binary end to end (process start, discovery, DPDK detection, line).
    let agent = env!("CARGO_BIN_EXE_userspace-agent");
    let agent_args = [
        "--podinfo",
        &loc.podinfo_dir.display().to_string(),
        "--container-id",
        loc.container_id.as_deref().unwrap_or_default(),
        "testpmd",
        "--dry-run",
    ]
    .map(String::from);
    let (agent_t, agent_rss) = spawn_stats(
        200,
        agent,
        &agent_args,
        &[("USERSPACE_DPDK_VERSION", "22.11")],
    );

    println!(
        "discovery + EAL/testpmd argv for a pod with {IFACES} interfaces (2 cores, {})",
        date()
    );
    println!("| what | median | p99 | peak RSS | vs. shell baseline |");
    println!("|---|---|---|---|---|");
    println!(
        "| SDK in-process: PodView::discover + EalBuilder::build | {:?} | {:?} | (in bench process) | {:.2}x time |",
        in_proc.0,
        in_proc.1,
        ratio(in_proc.0, shell_t.0)
    );
    println!(
        "| `userspace-agent testpmd --dry-run` (process) | {:?} | {:?} | {} KiB | {:.2}x time, {:.2}x RSS |",
        agent_t.0,
        agent_t.1,
        agent_rss,
        ratio(agent_t.0, shell_t.0),
        agent_rss as f64 / shell_rss.max(1) as f64
    );
    println!(
        "| baseline: get-prefix.sh (sh + sed + awk, ID only) | {:?} | {:?} | {} KiB | 1.00x |",
        shell_t.0, shell_t.1, shell_rss
    );
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn date() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// (median, p99) of `n` runs.
fn time(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    (v[n / 2], v[n * 99 / 100])
}

/// Times `n` runs of a command; peak RSS is the largest `ru_maxrss` of any child so far (KiB).
fn spawn_stats(
    n: usize,
    prog: &str,
    args: &[String],
    env: &[(&str, &str)],
) -> ((Duration, Duration), i64) {
    let t = time(n, || {
        let out = Command::new(prog)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("spawn");
        assert!(
            out.status.success(),
            "{prog} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    // RUSAGE_CHILDREN keeps the maximum over every child so far, so the smaller baseline is
    // measured first.
    let rss = getrusage(UsageWho::RUSAGE_CHILDREN)
        .map(|r| r.max_rss())
        .unwrap_or(0);
    (t, rss)
}

/// A pod with 8 interfaces described by every source: configuration-data, network-status with
/// device-info, shared-dir files and sockets.
fn fixture(root: &Path) -> Locations {
    let id = "9a3c0ffee0ddf00d1234567890abcdef1234567890abcdef1234567890abcdef".to_owned();
    let shared = root.join("shared");
    let podinfo = root.join("podinfo");
    std::fs::create_dir_all(&shared).expect("mkdir");
    std::fs::create_dir_all(&podinfo).expect("mkdir");
    let mut entries = Vec::new();
    let mut status =
        vec![json!({"name": "cbr0", "interface": "eth0", "ips": ["10.244.1.5"], "default": true})];
    for n in 1..=IFACES {
        let ifname = format!("net{n}");
        let memif = n % 2 == 0;
        let (config, sock, info) = if memif {
            let f = format!("memif-{}-{ifname}.sock", &id[..12]);
            (
                json!({"engine": "vpp", "iftype": "memif", "netType": "interface", "memif": {"role": "slave", "mode": "ethernet", "socketfile": f}}),
                f.clone(),
                json!({"type": "memif", "version": "1.1.0", "memif": {"role": "slave", "mode": "ethernet", "path": shared.join(&f)}}),
            )
        } else {
            let f = format!("{}-{ifname}", &id[..12]);
            (
                json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface", "vhost": {"mode": "client", "socketfile": f}}),
                f.clone(),
                json!({"type": "vhost-user", "version": "1.1.0", "vhost-user": {"mode": "client", "path": shared.join(&f)}}),
            )
        };
        let ip = format!("10.56.{n}.2/24");
        let mac = format!("02:00:00:00:00:{n:02x}");
        let entry = json!({"containerId": id, "ifName": ifname, "name": format!("userspace-{n}"), "config": config,
            "ipResult": {"cniVersion": "1.0.0", "interfaces": [{"name": ifname, "mac": mac}],
                         "ips": [{"address": ip, "gateway": format!("10.56.{n}.1"), "interface": 0}], "dns": {}}});
        std::fs::write(
            shared.join(format!("configData-{}-{ifname}.json", &id[..12])),
            entry.to_string(),
        )
        .expect("write");
        entries.push(entry);
        status.push(json!({"name": format!("userspace-{n}"), "interface": ifname, "ips": [ip.split('/').next()], "mac": mac, "device-info": info}));
        let _ = std::os::unix::net::UnixListener::bind(shared.join(sock));
    }
    let map = [
        (
            "userspace/configuration-data".to_owned(),
            serde_json::to_string(&entries).expect("json"),
        ),
        (
            "userspace/mapped-dir".to_owned(),
            shared.display().to_string(),
        ),
        (
            "k8s.v1.cni.cncf.io/network-status".to_owned(),
            serde_json::to_string_pretty(&status).expect("json"),
        ),
    ]
    .into_iter()
    .collect();
    std::fs::write(podinfo.join("annotations"), downward::render(&map)).expect("write");
    Locations {
        podinfo_dir: podinfo,
        container_id: Some(id),
        shared_dir: None,
        ..Locations::default()
    }
}
