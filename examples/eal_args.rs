//! A DPDK application's start-up with the SDK: find this pod's interfaces and get the EAL
//! arguments for them, the way an app would before calling `rte_eal_init`.
//!
//! `cargo run -p userspace-examples --example eal_args` inside a pod. The inputs are read
//! from the same places as the agent's, each overridable by the same variable:
//! USERSPACE_PODINFO (/etc/podinfo), USERSPACE_SHARED_DIR, USERSPACE_CONTAINER_ID,
//! USERSPACE_PROC_ROOT, USERSPACE_SYS_ROOT. The DPDK version decides the argument spelling:
//! USERSPACE_DPDK_VERSION=YY.MM (the DPDK the app is built against), else the installed one.

use anyhow::Context;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::version::VERSION_ENV;
use userspace_cni_sdk::dpdk::{DpdkInstall, DpdkVersion};

fn main() -> anyhow::Result<()> {
    let view = PodView::discover(&Locations::from_env()).context("discovering the pod")?;
    let dpdk = dpdk_version()?;
    print!(
        "{}",
        userspace_examples::report(&view, dpdk, std::process::id())
    );
    Ok(())
}

fn dpdk_version() -> anyhow::Result<DpdkVersion> {
    if let Ok(v) = std::env::var(VERSION_ENV) {
        return v.parse().with_context(|| format!("{VERSION_ENV}={v}"));
    }
    let install = DpdkInstall::detect(std::env::var_os("PATH").as_deref())
        .with_context(|| format!("finding DPDK (or set {VERSION_ENV}=YY.MM)"))?;
    Ok(install.version)
}
