//! Bounded waiting for what the host side pushes: the configuration and the sockets it creates.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::bail;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::EalError;

const POLL: Duration = Duration::from_millis(200);

/// Discovers until at least `min` interfaces are known and every host-created socket exists,
/// or fails after `timeout` saying what is still missing.
pub fn for_interfaces(loc: &Locations, min: usize, timeout: Duration) -> anyhow::Result<PodView> {
    let start = Instant::now();
    loop {
        let mut none = false;
        let missing = match PodView::discover(loc) {
            Ok(view) => {
                none = view.interfaces.is_empty();
                let mut missing = Vec::new();
                if view.interfaces.len() < min {
                    missing.push(format!(
                        "{} userspace interface(s) found, {min} needed: no entry in the {} annotation ({}), no per-interface file or socket in {}{}",
                        view.interfaces.len(),
                        userspace_cni_sdk::wire::CONFIGURATION_DATA_ANNOTATION,
                        loc.podinfo_dir.join("annotations").display(),
                        view.shared_dir.path.display(),
                        if view.shared_dir.exists { "" } else { " (missing)" },
                    ));
                }
                for (iface, path, host_made) in view.sockets() {
                    if host_made && !is_socket(path) {
                        missing.push(format!(
                            "{}: socket {} that the host side creates does not exist",
                            iface.name,
                            path.display()
                        ));
                    }
                }
                if missing.is_empty() {
                    return Ok(view);
                }
                missing
            }
            // A half-written annotation file is retried; a persistent one is reported.
            Err(e) => vec![format!("{e:#}")],
        };
        if start.elapsed() >= timeout {
            let msg = format!(
                "gave up after {:?} waiting for the pod's userspace interfaces:\n  {}\ncheck that the network attachment uses the userspace plugin and that the shared-dir and podinfo volumes are mounted",
                timeout,
                missing.join("\n  ")
            );
            // Typed, so that main exits with EXIT_NO_INTERFACES whatever the text says.
            if none {
                return Err(anyhow::Error::new(EalError::NoInterfaces).context(msg));
            }
            bail!(msg);
        }
        tracing::debug!(?missing, "waiting");
        sleep(POLL);
    }
}

fn is_socket(p: &Path) -> bool {
    p.metadata()
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}
