//! A DPDK application's start-up with the SDK: find this pod's interfaces and get the EAL
//! arguments for them, the way an app would before calling `rte_eal_init`.
//!
//! `cargo run -p userspace-examples --example eal_args` (inputs from the same USERSPACE_*
//! variables as the agent, e.g. USERSPACE_PODINFO=/etc/podinfo).

use anyhow::Context;
use userspace_cni_sdk::discovery::{Locations, PodView};
use userspace_cni_sdk::dpdk::DpdkInstall;

fn main() -> anyhow::Result<()> {
    let view = PodView::discover(&Locations::from_env()).context("discovering the pod")?;
    for i in &view.interfaces {
        let kind = i.kind().map(|k| k.to_string()).unwrap_or_default();
        let sock = i
            .socket_path
            .as_ref()
            .map(|s| s.value.display().to_string())
            .unwrap_or_default();
        println!("{} {kind} {sock}", i.name);
    }
    let dpdk = DpdkInstall::detect(std::env::var_os("PATH").as_deref()).context("finding DPDK")?;
    match view.eal_builder(dpdk.version, std::process::id()).build() {
        Ok(args) => println!("EAL: {}", args.eal.join(" ")),
        Err(e) => println!("no EAL arguments: {e}"),
    }
    Ok(())
}
