//! `userspace-agent inspect`: what the SDK sees, and where each fact came from.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::DpdkInstall;
use userspace_cni_sdk::error_chain;
use userspace_cni_sdk::interfaces::{Fact, PodInterface};

pub fn run(loc: &Locations, json: bool) -> anyhow::Result<ExitCode> {
    let view = PodView::discover(loc).context("discovering the pod's interfaces")?;
    if json {
        let text = serde_json::to_string_pretty(&view).context("serialising the view")?;
        println!("{text}");
    } else {
        print!("{}", render(&view));
    }
    Ok(ExitCode::SUCCESS)
}

fn render(view: &PodView) -> String {
    let mut s = String::new();
    match &view.container {
        Some(c) => {
            let _ = writeln!(s, "container  {} ({})", c.id, c.rule);
        }
        None => {
            let _ = writeln!(s, "container  unknown (use --container-id)");
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
    for i in &view.interfaces {
        write_iface(&mut s, i);
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
    let path = std::env::var_os("PATH");
    let _ = writeln!(s, "\ndpdk:");
    match DpdkInstall::detect(path.as_deref()) {
        Ok(d) => {
            let _ = writeln!(
                s,
                "  {} (DPDK {}, from {})",
                d.testpmd.display(),
                d.version,
                d.how
            );
            match view.eal_builder(d.version, std::process::id()).build() {
                Ok(args) => {
                    let _ = writeln!(s, "  {}", args.shell_line(&d.testpmd.to_string_lossy()));
                }
                Err(e) => {
                    let _ = writeln!(s, "  no command line: {}", error_chain(&e));
                }
            }
        }
        Err(e) => {
            let _ = writeln!(s, "  {}", error_chain(&e));
        }
    }
    s
}

fn write_iface(s: &mut String, i: &PodInterface) {
    let kind = i
        .kind()
        .map(|k| k.to_string())
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(s, "  {} [{kind}]", i.name);
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
    line(s, "queues", &i.queues, ToString::to_string);
    line(s, "mtu", &i.mtu, ToString::to_string);
    line(s, "vlan", &i.vlan, ToString::to_string);
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
