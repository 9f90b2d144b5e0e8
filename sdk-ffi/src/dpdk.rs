//! Which DPDK release the program runs with.
//!
//! The agent finds it next to `dpdk-testpmd` (`DpdkInstall::detect`); a program linked with
//! DPDK is its own DPDK, so here the program may say it (`rte_version()`), and otherwise the
//! SDK's [`DpdkVersion::detect`] asks the same sources as the agent's, without needing testpmd
//! on PATH: `USERSPACE_DPDK_VERSION`, `pkg-config --modversion libdpdk`, the ABI of
//! `librte_eal.so.N`.

use userspace_cni_sdk::dpdk::version::{DetectError, VERSION_ENV};
use userspace_cni_sdk::dpdk::{DpdkVersion, Features};

/// The version and how it was found, or why it could not be.
pub(crate) fn resolve(
    given: Option<&(DpdkVersion, String)>,
) -> Result<(DpdkVersion, String), String> {
    let (v, how) = match given {
        Some(g) => g.clone(),
        None => detect()?,
    };
    if Features::of(v).is_none() {
        return Err(format!(
            "DPDK {v} ({how}) is older than the oldest supported release ({})",
            Features::OLDEST
        ));
    }
    Ok((v, how))
}

fn detect() -> Result<(DpdkVersion, String), String> {
    DpdkVersion::detect().map_err(|e| match e {
        DetectError::NoVersion { tried } => format!(
            "cannot tell the DPDK version: {tried}; set USERSPACE_OPTION_DPDK_VERSION (e.g. to rte_version()) or {VERSION_ENV}=YY.MM"
        ),
        e => e.to_string(),
    })
}
