//! DPDK: which version is installed, and the EAL / testpmd command line for the pod's
//! interfaces.

pub mod eal;
pub mod version;

pub use eal::{EalArgs, EalBuilder, EalError, ForwardMode, Memory, TestpmdOptions};
pub use version::{DetectError, DpdkInstall, DpdkVersion, Features};
