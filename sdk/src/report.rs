//! The human-readable report of a [`PodView`]: container, shared directory, interfaces with the
//! source of each fact, conflicts, warnings and resources. `userspace-agent inspect` and the C
//! API's `userspace_view_report` print it and add their own DPDK section.

use std::fmt::{self, Write as _};

use crate::discovery::PodView;
use crate::interfaces::{Fact, PodInterface};

/// Where the callers' reports differ.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions<'a> {
    /// What to tell the user when the container ID is unknown (how they can give it).
    pub unknown_container_hint: &'a str,
    /// Whether each interface's heading names its port number (`(interface N)`).
    pub port_numbers: bool,
}

/// The report of `view`'s pod sections, each line ending in a newline.
pub fn render_pod(view: &PodView, options: ReportOptions<'_>) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_pod(&mut s, view, options);
    s
}

fn write_pod(s: &mut String, view: &PodView, options: ReportOptions<'_>) -> fmt::Result {
    match &view.container {
        Some(c) => writeln!(s, "container  {} ({})", c.id, c.rule)?,
        None => writeln!(s, "container  unknown ({})", options.unknown_container_hint)?,
    }
    let sd = &view.shared_dir;
    writeln!(
        s,
        "shared dir {} ({}{})",
        sd.path.display(),
        sd.source,
        if sd.exists { "" } else { ", missing" }
    )?;
    writeln!(s, "\ninterfaces ({}):", view.interfaces.len())?;
    for (n, i) in view.interfaces.iter().enumerate() {
        write_iface(s, options.port_numbers.then_some(n), i)?;
    }
    if !view.conflicts.is_empty() {
        writeln!(s, "\nconflicts:")?;
        for c in &view.conflicts {
            writeln!(s, "  {c}")?;
        }
    }
    if !view.warnings.is_empty() {
        writeln!(s, "\nwarnings:")?;
        for w in &view.warnings {
            writeln!(s, "  {}: {}", w.source, w.message)?;
        }
    }
    let r = &view.resources;
    writeln!(s, "\nresources:")?;
    writeln!(s, "  cpus       {} ({})", r.cpus.usable, r.cpus.source)?;
    match r.hugepages.usable_bytes() {
        Some(b) => writeln!(s, "  hugepages  {} MiB usable", b >> 20)?,
        None => writeln!(s, "  hugepages  none usable (DPDK will run with --no-huge)")?,
    }
    if let Some(n) = r.numa_node {
        writeln!(s, "  numa node  {n}")?;
    }
    Ok(())
}

fn write_iface(s: &mut String, port: Option<usize>, i: &PodInterface) -> fmt::Result {
    let kind = i
        .kind()
        .map(|k| k.to_string())
        .unwrap_or_else(|| "?".into());
    match port {
        Some(port) => writeln!(s, "  {} [{kind}] (interface {port})", i.name)?,
        None => writeln!(s, "  {} [{kind}]", i.name)?,
    }
    line(s, "network", &i.network, Clone::clone)?;
    line(s, "socket", &i.socket_path, |p| p.display().to_string())?;
    line(s, "role", &i.role, ToString::to_string)?;
    line(s, "mode", &i.memif_mode, ToString::to_string)?;
    line(s, "pci", &i.pci_address, ToString::to_string)?;
    line(s, "vdpa", &i.vdpa_path, |p| p.display().to_string())?;
    line(s, "mac", &i.mac, ToString::to_string)?;
    line(s, "ips", &i.ips, |v| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    })?;
    line(s, "gateway", &i.gateway, ToString::to_string)?;
    line(s, "routes", &i.routes, |v| {
        v.iter()
            .map(|r| match r.gw {
                Some(g) => format!("{} via {g}", r.dst),
                None => r.dst.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// One fact: its value, then its source and the sources that confirm it.
fn line<T>(
    s: &mut String,
    label: &str,
    f: &Option<Fact<T>>,
    show: impl Fn(&T) -> String,
) -> fmt::Result {
    let Some(f) = f else {
        return Ok(());
    };
    let mut src = f.source.to_string();
    for c in &f.confirmed_by {
        write!(src, ", {c}")?;
    }
    writeln!(s, "    {label:<9} {:<40} <- {src}", show(&f.value))
}
