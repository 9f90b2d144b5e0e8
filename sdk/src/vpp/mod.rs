//! VPP inside the pod: the `startup.conf` that fits the pod's interfaces, CPUs and memory.
//! (Configuring the running VPP over its API is the agent's `vpp` command.)

pub mod startup;

pub use startup::{StartupConf, StartupError, StartupOptions};
