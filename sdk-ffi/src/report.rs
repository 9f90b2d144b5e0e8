//! The human-readable report (`userspace_view_report`), laid out as `userspace-agent inspect`.

use std::fmt::Write as _;

use userspace_cni_sdk::interfaces::{Fact, PodInterface};

use crate::view::UserspaceView;

pub(crate) fn render(v: &UserspaceView) -> String {
    let view = &v.pod;
    let mut s = String::new();
    match &view.container {
        Some(c) => {
            let _ = writeln!(s, "container  {} ({})", c.id, c.rule);
        }
        None => {
            let _ = writeln!(
                s,
                "container  unknown (set USERSPACE_CONTAINER_ID or USERSPACE_OPTION_CONTAINER_ID)"
            );
        }
    }
    let sd = &view.shared_dir;
    let _ = writeln!(
        s,
        "shared dir {} ({}{})",
        sd.path.display(),
        sd.source,
        if sd.exists { "" } else { ", missing" }
    );
    let _ = writeln!(s, "\ninterfaces ({}):", view.interfaces.len());
    for (n, i) in view.interfaces.iter().enumerate() {
        write_iface(&mut s, n, i);
    }
    if !view.conflicts.is_empty() {
        let _ = writeln!(s, "\nconflicts:");
        for c in &view.conflicts {
            let _ = writeln!(s, "  {c}");
        }
    }
    if !view.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings:");
        for w in &view.warnings {
            let _ = writeln!(s, "  {}: {}", w.source, w.message);
        }
    }
    let r = &view.resources;
    let _ = writeln!(s, "\nresources:");
    let _ = writeln!(s, "  cpus       {} ({})", r.cpus.usable, r.cpus.source);
    match r.hugepages.usable_bytes() {
        Some(b) => {
            let _ = writeln!(s, "  hugepages  {} MiB usable", b >> 20);
        }
        None => {
            let _ = writeln!(s, "  hugepages  none usable (DPDK will run with --no-huge)");
        }
    }
    if let Some(n) = r.numa_node {
        let _ = writeln!(s, "  numa node  {n}");
    }
    let _ = writeln!(s, "\ndpdk:");
    match v.dpdk() {
        Ok((ver, how)) => {
            let _ = writeln!(s, "  DPDK {ver} ({})", how.to_string_lossy());
        }
        Err(e) => {
            let _ = writeln!(s, "  {}", e.message);
        }
    }
    match crate::args::memory(v) {
        Ok(m) => {
            let _ = writeln!(
                s,
                "  memory     {} MiB{}",
                m.mb(),
                if matches!(m, userspace_cni_sdk::dpdk::Memory::Hugepages(_)) {
                    " of hugepages"
                } else {
                    " without hugepages (--no-huge)"
                }
            );
        }
        Err(e) => {
            let _ = writeln!(s, "  memory     {}", e.message);
        }
    }
    s
}

fn write_iface(s: &mut String, port: usize, i: &PodInterface) {
    let kind = i
        .kind()
        .map(|k| k.to_string())
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(s, "  {} [{kind}] (interface {port})", i.name);
    fn line<T>(s: &mut String, label: &str, f: &Option<Fact<T>>, show: impl Fn(&T) -> String) {
        if let Some(f) = f {
            let mut src = f.source.to_string();
            for c in &f.confirmed_by {
                src.push_str(&format!(", {c}"));
            }
            let _ = writeln!(s, "    {label:<9} {:<40} <- {src}", show(&f.value));
        }
    }
    line(s, "network", &i.network, Clone::clone);
    line(s, "socket", &i.socket_path, |p| p.display().to_string());
    line(s, "role", &i.role, ToString::to_string);
    line(s, "mode", &i.memif_mode, ToString::to_string);
    line(s, "pci", &i.pci_address, ToString::to_string);
    line(s, "vdpa", &i.vdpa_path, |p| p.display().to_string());
    line(s, "mac", &i.mac, ToString::to_string);
    line(s, "ips", &i.ips, |v| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    });
    line(s, "gateway", &i.gateway, ToString::to_string);
    line(s, "routes", &i.routes, |v| {
        v.iter()
            .map(|r| match r.gw {
                Some(g) => format!("{} via {g}", r.dst),
                None => r.dst.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
}
