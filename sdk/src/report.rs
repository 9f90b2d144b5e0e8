//! The human-readable report of a [`PodView`]: container, shared directory, a table of the
//! interfaces and where each fact came from, conflicts, warnings and resources. `userspace-agent inspect` and the C
//! API's `userspace_view_report` print it and add their own DPDK section.

use std::fmt::{self, Write as _};

use crate::discovery::PodView;
use crate::interfaces::{Fact, PodInterface};

/// Where the callers' reports differ.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions<'a> {
    /// What to tell the user when the container ID is unknown (how they can give it).
    pub unknown_container_hint: &'a str,
    /// Whether the interface table has a PORT column (the DPDK port number).
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
    write_interfaces(s, &view.interfaces, options.port_numbers);
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

/// One fact of an interface: its label, the value shown, and the sources that reported it.
struct Shown {
    label: &'static str,
    value: String,
    sources: Vec<String>,
}

fn shown<T>(
    out: &mut Vec<Shown>,
    label: &'static str,
    f: &Option<Fact<T>>,
    show: impl Fn(&T) -> String,
) {
    if let Some(f) = f {
        out.push(Shown {
            label,
            value: show(&f.value),
            sources: std::iter::once(&f.source)
                .chain(&f.confirmed_by)
                .map(ToString::to_string)
                .collect(),
        });
    }
}

fn join<T: ToString>(v: &[T], sep: &str) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// Every fact of an interface, the table's first, in the table's order.
fn facts(i: &PodInterface) -> Vec<Shown> {
    let mut v = Vec::new();
    shown(&mut v, "kind", &i.kind, ToString::to_string);
    shown(&mut v, "socket", &i.socket_path, |p| {
        p.display().to_string()
    });
    shown(&mut v, "role", &i.role, ToString::to_string);
    shown(&mut v, "mac", &i.mac, ToString::to_string);
    shown(&mut v, "addresses", &i.ips, |a| join(a, ","));
    shown(&mut v, "queues", &i.queues, ToString::to_string);
    shown(&mut v, "vlan", &i.vlan, ToString::to_string);
    shown(&mut v, "mtu", &i.mtu, ToString::to_string);
    shown(&mut v, "network", &i.network, Clone::clone);
    shown(&mut v, "mode", &i.memif_mode, ToString::to_string);
    shown(&mut v, "pci", &i.pci_address, ToString::to_string);
    shown(&mut v, "vdpa", &i.vdpa_path, |p| p.display().to_string());
    shown(&mut v, "gateway", &i.gateway, ToString::to_string);
    shown(&mut v, "routes", &i.routes, |r| {
        r.iter()
            .map(|r| match r.gw {
                Some(g) => format!("{} via {g}", r.dst),
                None => r.dst.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    });
    v
}

/// The table's columns: header and fact label (`name` is the interface's own).
const COLUMNS: [(&str, &str); 9] = [
    ("NAME", "name"),
    ("KIND", "kind"),
    ("SOCKET", "socket"),
    ("ROLE", "role"),
    ("MAC", "mac"),
    ("ADDRESSES", "addresses"),
    ("QUEUES", "queues"),
    ("VLAN", "vlan"),
    ("MTU", "mtu"),
];

/// One row per interface with its main facts (`-`: not known), then the other facts, then
/// where each fact came from: every source numbered once, each interface's facts grouped by
/// the sources that reported them.
/// With `port_numbers`, a first PORT column gives each interface's DPDK port number.
fn write_interfaces(s: &mut String, ifaces: &[PodInterface], port_numbers: bool) {
    let all: Vec<(&PodInterface, Vec<Shown>)> = ifaces.iter().map(|i| (i, facts(i))).collect();
    let columns: Vec<(&str, &str)> = port_numbers
        .then_some(("PORT", "port"))
        .into_iter()
        .chain(COLUMNS)
        .collect();
    let rows: Vec<Vec<String>> = all
        .iter()
        .enumerate()
        .map(|(n, (i, f))| {
            columns
                .iter()
                .map(|(_, label)| match *label {
                    "name" => i.name.clone(),
                    "port" => n.to_string(),
                    l => f
                        .iter()
                        .find(|x| x.label == l)
                        .map_or_else(|| "-".to_owned(), |x| x.value.clone()),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(c, (h, _))| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(l, "  {c:<w$}");
        }
        l.trim_end().to_owned()
    };
    let _ = writeln!(s, "{}", line(columns.iter().map(|(h, _)| *h).collect()));
    for r in &rows {
        let _ = writeln!(s, "{}", line(r.iter().map(String::as_str).collect()));
    }
    let in_table = |l: &str| columns.iter().any(|(_, c)| *c == l);
    let mut more = String::new();
    for (i, f) in &all {
        let extra: Vec<String> = f
            .iter()
            .filter(|x| !in_table(x.label))
            .map(|x| format!("{} {}", x.label, x.value))
            .collect();
        if !extra.is_empty() {
            let _ = writeln!(more, "  {}: {}", i.name, extra.join("; "));
        }
    }
    if !more.is_empty() {
        let _ = write!(s, "\n{more}");
    }
    write_sources(s, &all, widths[usize::from(port_numbers)]);
}

/// Every source numbered once (in order of first appearance), then per interface its facts
/// grouped by the sources that reported them.
fn write_sources(s: &mut String, all: &[(&PodInterface, Vec<Shown>)], name_width: usize) {
    // Sources, numbered in order of first appearance.
    let mut legend: Vec<&str> = Vec::new();
    for (_, f) in all {
        for x in f {
            for src in &x.sources {
                if !legend.contains(&src.as_str()) {
                    legend.push(src);
                }
            }
        }
    }
    if legend.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nsources:");
    for (n, src) in legend.iter().enumerate() {
        let _ = writeln!(s, "  [{}] {src}", n + 1);
    }
    for (i, f) in all {
        // Facts with the same sources together, in order of first appearance.
        let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
        for x in f {
            let key = x
                .sources
                .iter()
                .filter_map(|src| legend.iter().position(|l| l == src))
                .map(|n| (n + 1).to_string())
                .collect::<Vec<_>>()
                .join("+");
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, labels)) => labels.push(x.label),
                None => groups.push((key, vec![x.label])),
            }
        }
        let text = groups
            .iter()
            .map(|(k, labels)| format!("{} [{k}]", labels.join(",")))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(s, "  {:<w$}  {text}", i.name, w = name_width);
    }
}
