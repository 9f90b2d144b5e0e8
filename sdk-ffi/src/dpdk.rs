//! Which DPDK release the program runs with.
//!
//! The agent finds it next to `dpdk-testpmd` (`DpdkInstall::detect`); a program linked with
//! DPDK is its own DPDK, so here the program may say it (`rte_version()`), and otherwise the
//! same sources as the agent's are asked in the same order, without needing testpmd on PATH:
//! `USERSPACE_DPDK_VERSION`, `pkg-config --modversion libdpdk`, the ABI of `librte_eal.so.N`.

use std::path::PathBuf;
use std::process::Command;

use userspace_cni_sdk::dpdk::version::{VERSION_ENV, abi_version};
use userspace_cni_sdk::dpdk::{DpdkVersion, Features};

use crate::options::parse_dpdk_version;

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
    if let Some(v) = std::env::var_os(VERSION_ENV).filter(|v| !v.is_empty()) {
        let v = v.to_string_lossy();
        return parse_dpdk_version(&v)
            .map(|ver| (ver, format!("{VERSION_ENV}={v}")))
            .map_err(|e| format!("{VERSION_ENV}: {e}"));
    }
    let mut tried = Vec::new();
    match pkg_config() {
        Ok(v) => return Ok((v, "pkg-config --modversion libdpdk".to_owned())),
        Err(e) => tried.push(e),
    }
    match abi_version(&lib_dirs()) {
        Ok((v, lib)) => {
            return Ok((
                v,
                format!(
                    "ABI of {} (release {v} or a later one of that ABI)",
                    lib.display()
                ),
            ));
        }
        Err(e) => tried.push(e),
    }
    Err(format!(
        "cannot tell the DPDK version: {}; set USERSPACE_OPTION_DPDK_VERSION (e.g. to rte_version()) or {VERSION_ENV}=YY.MM",
        tried.join("; ")
    ))
}

fn pkg_config() -> Result<DpdkVersion, String> {
    let out = Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    if !out.status.success() {
        return Err("pkg-config does not know libdpdk".into());
    }
    parse_dpdk_version(&String::from_utf8_lossy(&out.stdout))
}

fn lib_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
        "/usr/local/lib64",
        "/usr/local/lib/x86_64-linux-gnu",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}
