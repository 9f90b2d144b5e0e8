//! `userspace_options`: where the pod view is read from and how the EAL arguments are made.

use std::ffi::c_char;
use std::path::PathBuf;

use userspace_cni_sdk::dpdk::DpdkVersion;

use crate::{Error, Result, UserspaceStatus, borrow, status_call, str_arg, value_call};

/// The settings of `userspace_options_set`. Every one is a string; NULL restores the default.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserspaceOption {
    /// The proc filesystem (mountinfo, cgroup, status of `self`). Default:
    /// `$USERSPACE_PROC_ROOT`, else `/proc`.
    ProcRoot = 1,
    /// The sys filesystem (cgroups, hugepages, NUMA). Default: `$USERSPACE_SYS_ROOT`, else `/sys`.
    SysRoot = 2,
    /// The downward-API volume holding the pod's `annotations` file. Default:
    /// `$USERSPACE_PODINFO`, else `/etc/podinfo`.
    PodinfoDir = 3,
    /// The shared directory as mounted in this container. Default: `$USERSPACE_SHARED_DIR`,
    /// else the `userspace/mapped-dir` annotation, else `/var/lib/cni/usrspcni`.
    SharedDir = 4,
    /// This pod's sandbox container ID, when discovery from mountinfo cannot work. Default:
    /// `$USERSPACE_CONTAINER_ID`, else discovered.
    ContainerId = 5,
    /// The DPDK release the program runs with, `YY.MM[.P]`; `rte_version()`'s
    /// `"DPDK 22.11.4"` is accepted as it is. Decides option spellings (`--main-lcore` or
    /// `--master-lcore`, `-a` or `-w`, memif roles). Default: `$USERSPACE_DPDK_VERSION`, else
    /// `pkg-config --modversion libdpdk`, else the ABI of the installed `librte_eal.so`.
    DpdkVersion = 6,
    /// Memory source: `auto` (hugepages when the pod has usable ones, else ordinary memory:
    /// the default), `yes` (hugepages or fail) or `no` (`--no-huge`).
    Hugepages = 7,
    /// MiB of memory for DPDK. Default: the hugepage budget, at most 256; 256 without hugepages.
    MemoryMb = 8,
    /// EAL `--file-prefix`. Default: `usrsp-<container id12>-<pid>`.
    FilePrefix = 9,
    /// Worker lcores besides the main one. Default: one per port, as many as the usable CPUs
    /// allow, at least one (sharing the main lcore's CPU on a one-CPU pod).
    WorkerLcores = 10,
    /// Queues per virtio_user / vDPA device (`queues=N`). Default: 1.
    Queues = 11,
    /// `1` to make EAL arguments even when the sources disagree about a data-plane fact (the
    /// preferred source's value is used), `0` to refuse (the default).
    AllowConflicts = 12,
}

impl UserspaceOption {
    fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::ProcRoot,
            2 => Self::SysRoot,
            3 => Self::PodinfoDir,
            4 => Self::SharedDir,
            5 => Self::ContainerId,
            6 => Self::DpdkVersion,
            7 => Self::Hugepages,
            8 => Self::MemoryMb,
            9 => Self::FilePrefix,
            10 => Self::WorkerLcores,
            11 => Self::Queues,
            12 => Self::AllowConflicts,
            _ => return None,
        })
    }
}

/// Memory source for DPDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Huge {
    #[default]
    Auto,
    Yes,
    No,
}

/// Options for opening a view and making its EAL arguments. Opaque; made by
/// `userspace_options_new`, released by `userspace_options_free`.
#[derive(Debug, Clone, Default)]
pub struct UserspaceOptions {
    pub(crate) proc_root: Option<PathBuf>,
    pub(crate) sys_root: Option<PathBuf>,
    pub(crate) podinfo_dir: Option<PathBuf>,
    pub(crate) shared_dir: Option<PathBuf>,
    pub(crate) container_id: Option<String>,
    pub(crate) dpdk_version: Option<(DpdkVersion, String)>,
    pub(crate) huge: Huge,
    pub(crate) memory_mb: Option<u64>,
    pub(crate) file_prefix: Option<String>,
    pub(crate) workers: Option<usize>,
    pub(crate) queues: Option<u16>,
    pub(crate) allow_conflicts: bool,
}

/// Parses a DPDK version as a user or `rte_version()` spells it.
pub(crate) fn parse_dpdk_version(s: &str) -> std::result::Result<DpdkVersion, String> {
    s.parse::<DpdkVersion>().map_err(|e| e.to_string())
}

fn number<T>(option: &str, v: &str, min: T) -> Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match v.trim().parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(Error::invalid(format!(
            "{option}: {v:?} is not a whole number >= {min}"
        ))),
    }
}

impl UserspaceOptions {
    pub(crate) fn set(&mut self, option: i32, value: Option<&str>) -> Result<()> {
        let opt = UserspaceOption::from_i32(option)
            .ok_or_else(|| Error::invalid(format!("{option} is not a userspace_option")))?;
        let path = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(PathBuf::from);
        match opt {
            UserspaceOption::ProcRoot => self.proc_root = path(value),
            UserspaceOption::SysRoot => self.sys_root = path(value),
            UserspaceOption::PodinfoDir => self.podinfo_dir = path(value),
            UserspaceOption::SharedDir => self.shared_dir = path(value),
            UserspaceOption::ContainerId => {
                self.container_id = value.filter(|s| !s.is_empty()).map(str::to_owned)
            }
            UserspaceOption::DpdkVersion => {
                self.dpdk_version = match value {
                    None => None,
                    Some(v) => Some((
                        parse_dpdk_version(v).map_err(|e| {
                            Error::new(
                                UserspaceStatus::InvalidArgument,
                                format!("USERSPACE_OPTION_DPDK_VERSION: {e}"),
                            )
                        })?,
                        format!("set by the program ({v})"),
                    )),
                }
            }
            UserspaceOption::Hugepages => {
                self.huge = match value.map(str::trim) {
                    None | Some("auto") => Huge::Auto,
                    Some("yes") => Huge::Yes,
                    Some("no") => Huge::No,
                    Some(v) => {
                        return Err(Error::invalid(format!(
                            "USERSPACE_OPTION_HUGEPAGES: {v:?} is not auto, yes or no"
                        )));
                    }
                }
            }
            UserspaceOption::MemoryMb => {
                self.memory_mb = value
                    .map(|v| number("USERSPACE_OPTION_MEMORY_MB", v, 1u64))
                    .transpose()?
            }
            UserspaceOption::FilePrefix => {
                self.file_prefix = match value {
                    Some(v) if v.is_empty() || v.contains('/') => {
                        return Err(Error::invalid(format!(
                            "USERSPACE_OPTION_FILE_PREFIX: {v:?} must be a non-empty name without '/'"
                        )));
                    }
                    v => v.map(str::to_owned),
                }
            }
            UserspaceOption::WorkerLcores => {
                self.workers = value
                    .map(|v| number("USERSPACE_OPTION_WORKER_LCORES", v, 1usize))
                    .transpose()?
            }
            UserspaceOption::Queues => {
                self.queues = value
                    .map(|v| number("USERSPACE_OPTION_QUEUES", v, 1u16))
                    .transpose()?
            }
            UserspaceOption::AllowConflicts => {
                self.allow_conflicts = match value.map(str::trim) {
                    None | Some("0" | "no" | "false") => false,
                    Some("1" | "yes" | "true") => true,
                    Some(v) => {
                        return Err(Error::invalid(format!(
                            "USERSPACE_OPTION_ALLOW_CONFLICTS: {v:?} is not 0 or 1"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// New options, all at their defaults (which follow the `USERSPACE_*` environment variables
/// the agent reads, as `UserspaceOption` says). NULL only if the library failed internally.
#[unsafe(no_mangle)]
pub extern "C" fn userspace_options_new() -> *mut UserspaceOptions {
    value_call(std::ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(UserspaceOptions::default())))
    })
}

/// Sets one option (a `userspace_option` value) to `value`; NULL restores its default. The
/// value is checked now: `USERSPACE_STATUS_INVALID_ARGUMENT` when it does not parse or the
/// option number is unknown (the options are then unchanged).
///
/// # Safety
/// `options` must be NULL or from `userspace_options_new`; `value` NULL or a valid string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_options_set(
    options: *mut UserspaceOptions,
    option: i32,
    value: *const c_char,
) -> UserspaceStatus {
    status_call(|| {
        // SAFETY: the caller promises a valid string or NULL.
        let value = unsafe { str_arg(value, "value") }?;
        // SAFETY: the caller promises a handle from userspace_options_new or NULL.
        let o = unsafe { options.as_mut() }.ok_or_else(|| Error::null("options"))?;
        let mut next = o.clone();
        next.set(option, value)?;
        *o = next;
        Ok(())
    })
}

/// Frees options. NULL is ignored. Views opened with them do not need them any more.
///
/// # Safety
/// `options` must be NULL or from `userspace_options_new`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userspace_options_free(options: *mut UserspaceOptions) {
    value_call((), || {
        if !options.is_null() {
            // SAFETY: made by Box::into_raw in userspace_options_new.
            drop(unsafe { Box::from_raw(options) });
        }
        Ok(())
    })
}

/// Borrows options that may be NULL (then the defaults).
///
/// # Safety
/// `p` must be NULL or from `userspace_options_new`.
pub(crate) unsafe fn options_or_default(p: *const UserspaceOptions) -> UserspaceOptions {
    if p.is_null() {
        UserspaceOptions::default()
    } else {
        // SAFETY: the caller promises a live handle.
        unsafe { borrow(p, "options") }.cloned().unwrap_or_default()
    }
}
