//! The SDK as a DPDK application uses it: what the pod's interfaces are and which EAL
//! arguments attach to them.
//!
//! `eal_args.rs` is the program; its report is built here so that `tests/eal_args.rs` can run
//! it on a fixture pod. See also `c/testpmd_line.c` (the same through the C ABI) and `k8s/`
//! (manifests for the plugin, the networks and the pods).

use std::fmt::Write as _;

use userspace_cni_sdk::discovery::PodView;
use userspace_cni_sdk::dpdk::DpdkVersion;
use userspace_cni_sdk::dpdk::eal::shell_join;
use userspace_cni_sdk::interfaces::PodInterface;

/// The report the example prints: where the shared directory is, each interface with its
/// facts, any disagreement between sources, and the EAL arguments for `rte_eal_init` (or why
/// there are none).
pub fn report(view: &PodView, dpdk: DpdkVersion, pid: u32) -> String {
    let mut out = String::new();
    let dir = &view.shared_dir;
    let _ = writeln!(
        out,
        "shared directory: {} ({}{})",
        dir.path.display(),
        dir.source,
        if dir.exists { "" } else { ", missing" }
    );
    match &view.container {
        Some(c) => {
            let _ = writeln!(out, "container: {}", c.id);
        }
        None => out.push_str("container: unknown\n"),
    }
    let _ = writeln!(out, "interfaces: {}", view.interfaces.len());
    for i in &view.interfaces {
        describe(&mut out, i);
    }
    for c in &view.conflicts {
        let _ = writeln!(out, "conflict: {c}");
    }
    for w in &view.warnings {
        let _ = writeln!(out, "warning: {}: {}", w.source, w.message);
    }
    match view.eal_builder(dpdk, pid).build() {
        Ok(args) => {
            let _ = writeln!(
                out,
                "EAL arguments (DPDK {dpdk}): {}",
                shell_join(&args.eal)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "no EAL arguments: {e}");
        }
    }
    out
}

fn describe(out: &mut String, i: &PodInterface) {
    let kind = i.kind().map(|k| k.to_string()).unwrap_or_default();
    let network = i.network.as_ref().map_or("", |n| n.value.as_str());
    let _ = writeln!(out, "  {} [{kind}] network {network}", i.name);
    let mut fact = |name: &str, value: String| {
        let _ = writeln!(out, "    {name:<8} {value}");
    };
    if let Some(s) = &i.socket_path {
        fact("socket", s.value.display().to_string());
    }
    if let Some(r) = &i.role {
        fact("role", format!("{} (of this app)", r.value));
    }
    if let Some(m) = &i.memif_mode {
        fact("mode", m.value.to_string());
    }
    if let Some(p) = &i.pci_address {
        fact("pci", p.value.to_string());
    }
    if let Some(m) = &i.mac {
        fact("mac", m.value.to_string());
    }
    if let Some(ips) = &i.ips {
        let ips: Vec<String> = ips.value.iter().map(ToString::to_string).collect();
        fact("ips", ips.join(" "));
    }
    if let Some(g) = &i.gateway {
        fact("gateway", g.value.to_string());
    }
}
