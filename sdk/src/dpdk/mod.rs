//! DPDK: which version is installed, and the EAL / testpmd command line for the pod's
//! interfaces.

pub mod eal;
pub mod version;

pub use eal::{EalArgs, EalBuilder, EalError, ForwardMode, Memory, TestpmdOptions};
pub use version::{DetectError, DpdkInstall, DpdkVersion, Features};

/// `userspace-agent`'s exit code when the pod has no userspace interfaces (none found before
/// the wait timed out, or [`EalError::NoInterfaces`]); `kubectl-testpmd` maps it to its hint.
/// Distinct from 1 (the command failed) and 2 (any other agent error).
pub const EXIT_NO_INTERFACES: u8 = 3;
