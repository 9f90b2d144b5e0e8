//! The human-readable report (`userspace_view_report`): the SDK's report of the pod (as
//! `userspace-agent inspect` prints it) and what this program's DPDK is.

use std::fmt::Write as _;

use userspace_cni_sdk::report::{self, ReportOptions};

use crate::view::UserspaceView;

pub(crate) fn render(v: &UserspaceView) -> String {
    let mut s = report::render_pod(
        &v.pod,
        ReportOptions {
            unknown_container_hint: "set USERSPACE_CONTAINER_ID or USERSPACE_OPTION_CONTAINER_ID",
            port_numbers: true,
        },
    );
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
