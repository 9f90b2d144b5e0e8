//! A real container runtime calls the plugin: podman (CNI network backend, runc) starts a
//! container on a `userspace` network, the plugin handles the real ADD (real container ID and
//! netns) and DEL, and `userspace-agent` inside the container finds its own container ID in
//! mountinfo and its interface in the shared directory.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use userspace_test_support::ovs::Ovs;

fn need(bin: &str, pkg: &str) {
    assert!(
        which::which(bin).is_ok() || Path::new(bin).exists(),
        "{bin} is missing: run `bash scripts/setup-host.sh` (apt-get install {pkg})"
    );
}

/// A busybox root filesystem with the agent and the libraries it links, imported as an image.
fn image(dir: &Path, agent: &Path, tag: &str) {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    std::fs::copy(agent, root.join("bin/userspace-agent")).unwrap();
    let ldd = Command::new("ldd").arg(agent).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dst = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(lib, dst).unwrap();
    }
    let tar = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | podman import - {tag}",
            root.display()
        ))
        .output()
        .unwrap();
    assert!(
        tar.status.success(),
        "podman import: {}",
        String::from_utf8_lossy(&tar.stderr)
    );
}

#[test]
fn podman_runs_add_and_del_and_the_agent_finds_its_interface_inside() {
    need("podman", "podman");
    need("/usr/sbin/runc", "runc");
    need("/usr/bin/busybox", "busybox-static");
    let plugin = PathBuf::from(env!("CARGO_BIN_EXE_userspace"));
    let agent = plugin.with_file_name("userspace-agent");
    assert!(
        agent.exists(),
        "{} is not built: run `cargo build --workspace` first (scripts/test.sh does)",
        agent.display()
    );

    let db = Ovs::start_db("ovs");
    let dir = tempfile::Builder::new()
        .prefix("pm")
        .tempdir_in("/tmp")
        .unwrap();
    let d = dir.path();
    for sub in ["net", "shared", "state", "ipam"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let tag = format!("localhost/usp-agent-test:{}", std::process::id());
    image(d, &agent, &tag);
    let conflist = serde_json::json!({
        "cniVersion": "1.0.0", "name": "usernet", "plugins": [{
            "type": "userspace", "ovsdbSocket": db.endpoint(), "sharedDir": d.join("shared"), "stateDir": d.join("state"),
            "logFile": d.join("plugin.log"), "logLevel": "info",
            "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge", "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br0"}},
            "ipam": {"type": "host-local", "subnet": "10.66.0.0/24", "dataDir": d.join("ipam")}
        }]
    });
    std::fs::write(d.join("net/usernet.conflist"), conflist.to_string()).unwrap();
    std::fs::write(
        d.join("containers.conf"),
        format!(
            "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\", \"/usr/lib/cni\"]\nnetwork_config_dir = \"{}\"\n",
            plugin.parent().unwrap().display(),
            d.join("net").display()
        ),
    )
    .unwrap();

    let out = Command::new("podman")
        .env("CONTAINERS_CONF", d.join("containers.conf"))
        .args([
            "--runtime",
            "/usr/sbin/runc",
            "run",
            "--rm",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(["--network", "usernet", "-v"])
        .arg(format!(
            "{}:/var/lib/cni/usrspcni",
            d.join("shared").display()
        ))
        .arg(&tag)
        .args(["/bin/userspace-agent", "inspect", "--json"])
        .output()
        .unwrap();
    let _ = Command::new("podman").args(["rmi", "-f", &tag]).output();
    let log = std::fs::read_to_string(d.join("plugin.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "podman run failed: {}\nplugin log:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );

    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = view["container"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        view["container"]["rule"], "containers-storage",
        "found from podman's mountinfo layout"
    );
    assert!(
        log.contains(&format!("verb=ADD container={id} ifname=eth0")),
        "the plugin's ADD had the real container ID:\n{log}"
    );
    assert!(
        log.contains(&format!("verb=DEL container={id} ifname=eth0")),
        "{log}"
    );
    let iface = &view["interfaces"][0];
    assert_eq!(iface["name"], "eth0");
    assert_eq!(iface["kind"]["value"], "vhost-user");
    assert_eq!(iface["role"]["value"], "server");
    assert_eq!(
        iface["socket_path"]["value"],
        format!("/var/lib/cni/usrspcni/{}/{}-eth0", &id[..12], &id[..12])
    );
    assert!(
        iface["ips"]["value"][0]
            .as_str()
            .unwrap()
            .starts_with("10.66.0."),
        "{iface}"
    );

    // DEL left nothing: no port, no files, no state, no lease.
    assert_eq!(db.rows("Port"), 0);
    assert!(db.bridges().is_empty());
    for sub in ["shared", "state"] {
        let left: Vec<_> = std::fs::read_dir(d.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".lock"))
            .collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
    let leases: Vec<_> = std::fs::read_dir(d.join("ipam/usernet"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("10."))
                .collect()
        })
        .unwrap_or_default();
    assert!(leases.is_empty(), "{leases:?}");
}
