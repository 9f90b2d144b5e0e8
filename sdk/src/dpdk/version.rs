//! Which DPDK is installed (binary name and version), and which options that version takes.
//!
//! Detection never starts the EAL: it asks, in order, an explicit override, `pkg-config
//! --modversion libdpdk`, and the ABI number of the installed `librte_eal.so.<ABI>`.

use std::env;
use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;

use serde::Serialize;

/// A DPDK release number (`22.11.11`; the patch level is 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DpdkVersion {
    /// Year.
    pub major: u32,
    /// Month.
    pub minor: u32,
    /// Stable patch release.
    pub patch: u32,
}

impl DpdkVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The LTS release that introduced a shared-library ABI number (`librte_eal.so.23` is
    /// 22.11). Non-LTS releases share the ABI of the LTS before them, so this is a lower bound.
    pub fn from_abi(abi: u32) -> Option<Self> {
        // ABI 20 was 19.11; since then one ABI per yearly LTS.
        (20..100).contains(&abi).then(|| Self::new(abi - 1, 11, 0))
    }
}

impl fmt::Display for DpdkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}.{}", self.major, self.minor, self.patch)
    }
}

/// A version string that is not `YY.MM[.P]`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a DPDK version: {0:?} (expected YY.MM or YY.MM.P, e.g. 22.11.4)")]
pub struct VersionParseError(pub String);

impl FromStr for DpdkVersion {
    type Err = VersionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionParseError(s.to_owned());
        let t = s.trim();
        // `rte_version()` says `DPDK 22.11.4`.
        let t = t.strip_prefix("DPDK").map_or(t, str::trim_start);
        // Packagers add suffixes such as `22.11.4-rc1` or `22.11.11-0+deb12u1`.
        let core = t.split(['-', '+', '~', ' ']).next().unwrap_or(t);
        let mut it = core.split('.');
        let mut num = || -> Result<Option<u32>, VersionParseError> {
            it.next()
                .map(|p| p.parse::<u32>().map_err(|_| err()))
                .transpose()
        };
        let major = num()?.ok_or_else(err)?;
        let minor = num()?.ok_or_else(err)?;
        let patch = num()?.unwrap_or(0);
        Ok(Self::new(major, minor, patch))
    }
}

/// Option spellings and device arguments that depend on the DPDK version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Features {
    /// `--main-lcore` (20.11+) or `--master-lcore`.
    pub main_lcore_flag: &'static str,
    /// `-a` (20.11+) or `-w` for the PCI allow list.
    pub allow_flag: &'static str,
    /// memif roles are `server`/`client` (20.11+) rather than `master`/`slave`.
    pub memif_server_client: bool,
    /// memif takes `socket-abstract=` (20.11+, where abstract became the default).
    pub memif_socket_abstract: bool,
}

impl Features {
    /// The oldest release the builder knows (`--single-file-segments` and `--in-memory`
    /// arrived in 18.05; 18.11 is the LTS after).
    pub const OLDEST: DpdkVersion = DpdkVersion::new(18, 11, 0);

    /// The features of a release, or `None` if it is older than [`Self::OLDEST`].
    pub fn of(v: DpdkVersion) -> Option<Self> {
        if v < Self::OLDEST {
            return None;
        }
        let modern = v >= DpdkVersion::new(20, 11, 0);
        Some(Self {
            main_lcore_flag: if modern {
                "--main-lcore"
            } else {
                "--master-lcore"
            },
            allow_flag: if modern { "-a" } else { "-w" },
            memif_server_client: modern,
            memif_socket_abstract: modern,
        })
    }
}

/// The installed testpmd and the DPDK version it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DpdkInstall {
    /// Path of `dpdk-testpmd` (or the pre-20.11 `testpmd`).
    pub testpmd: PathBuf,
    /// The DPDK version.
    pub version: DpdkVersion,
    /// How the version was found, for diagnostics.
    pub how: String,
}

/// DPDK could not be found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DetectError {
    /// Neither binary name is on PATH.
    #[error(
        "neither dpdk-testpmd nor testpmd is on PATH ({path}); install DPDK (Debian: apt-get install dpdk-dev)"
    )]
    NoTestpmd {
        /// The PATH searched.
        path: String,
    },
    /// The version could not be told.
    #[error("cannot tell the DPDK version: {tried}; set USERSPACE_DPDK_VERSION=YY.MM to override")]
    NoVersion {
        /// What was tried.
        tried: String,
    },
    /// The override is malformed.
    #[error("USERSPACE_DPDK_VERSION: {0}")]
    BadOverride(VersionParseError),
}

/// Environment variable that overrides version detection.
pub const VERSION_ENV: &str = "USERSPACE_DPDK_VERSION";

impl DpdkInstall {
    /// Finds testpmd on `path` (the PATH value) and the DPDK version.
    pub fn detect(path: Option<&OsStr>) -> Result<Self, DetectError> {
        let testpmd = find_testpmd(path).ok_or_else(|| DetectError::NoTestpmd {
            path: path
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })?;
        let (version, how) = DpdkVersion::detect()?;
        Ok(Self {
            testpmd,
            version,
            how,
        })
    }
}

impl DpdkVersion {
    /// The installed DPDK's version and how it was found, asking in this order:
    /// `USERSPACE_DPDK_VERSION` (when set and not empty), `pkg-config --modversion libdpdk`,
    /// the ABI of the highest `librte_eal.so.N` on `LD_LIBRARY_PATH` and the usual library
    /// directories.
    pub fn detect() -> Result<(Self, String), DetectError> {
        if let Some(v) = env::var_os(VERSION_ENV).filter(|v| !v.is_empty()) {
            let v = v.to_string_lossy();
            let version = v.parse().map_err(DetectError::BadOverride)?;
            return Ok((version, format!("{VERSION_ENV}={v}")));
        }
        let mut tried = Vec::new();
        match pkg_config_version() {
            Ok(version) => return Ok((version, "pkg-config --modversion libdpdk".into())),
            Err(e) => tried.push(e),
        }
        match abi_version(&lib_dirs()) {
            Ok((version, lib)) => {
                let how = format!(
                    "ABI of {} (release {version} or a later one of that ABI)",
                    lib.display()
                );
                return Ok((version, how));
            }
            Err(e) => tried.push(e),
        }
        Err(DetectError::NoVersion {
            tried: tried.join("; "),
        })
    }
}

/// `dpdk-testpmd` since 20.11, `testpmd` before.
pub fn find_testpmd(path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    ["dpdk-testpmd", "testpmd"]
        .iter()
        .find_map(|name| which::which_in_global(name, Some(path)).ok()?.next())
}

fn pkg_config_version() -> Result<DpdkVersion, String> {
    // Looked up first: a container image rarely has pkg-config, and a spawn that fails only
    // in the child costs more than the rest of the agent's start (measured: ~0.7 ms).
    let pkg_config = which::which("pkg-config").map_err(|_| "pkg-config: not on PATH")?;
    let out = Command::new(pkg_config)
        .args(["--modversion", "libdpdk"])
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    if !out.status.success() {
        return Err("pkg-config does not know libdpdk".into());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e: VersionParseError| e.to_string())
}

fn lib_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env::var_os("LD_LIBRARY_PATH")
        .map(|p| env::split_paths(&p).collect())
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

/// Finds `librte_eal.so.<ABI>` in `dirs` and maps the ABI to its release.
pub fn abi_version(dirs: &[PathBuf]) -> Result<(DpdkVersion, PathBuf), String> {
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut best: Option<(u32, PathBuf)> = None;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(abi) = name
                .to_str()
                .and_then(|n| n.strip_prefix("librte_eal.so."))
                .and_then(|rest| rest.split('.').next())
                .and_then(|a| a.parse::<u32>().ok())
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| abi > *b) {
                best = Some((abi, e.path()));
            }
        }
        if let Some((abi, path)) = best {
            let v = DpdkVersion::from_abi(abi)
                .ok_or_else(|| format!("unknown DPDK ABI {abi} in {}", path.display()))?;
            return Ok((v, path));
        }
    }
    Err("no librte_eal.so.<ABI> in the library directories".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_numbers_with_packaging_suffixes() {
        assert_eq!(
            "22.11.11-0+deb12u1".parse::<DpdkVersion>().unwrap(),
            DpdkVersion::new(22, 11, 11)
        );
        assert_eq!(
            "23.11".parse::<DpdkVersion>().unwrap(),
            DpdkVersion::new(23, 11, 0)
        );
        assert_eq!(
            "17.11.10~rc1".parse::<DpdkVersion>().unwrap(),
            DpdkVersion::new(17, 11, 10)
        );
        assert_eq!(
            "DPDK 22.11.4".parse::<DpdkVersion>().unwrap(),
            DpdkVersion::new(22, 11, 4),
            "rte_version()'s form"
        );
        assert!("twenty".parse::<DpdkVersion>().is_err());
        assert!("22".parse::<DpdkVersion>().is_err());
    }

    #[test]
    fn abi_numbers_map_to_their_lts_release() {
        assert_eq!(DpdkVersion::from_abi(23), Some(DpdkVersion::new(22, 11, 0)));
        assert_eq!(DpdkVersion::from_abi(21), Some(DpdkVersion::new(20, 11, 0)));
        assert_eq!(DpdkVersion::from_abi(3), None);
    }

    #[test]
    fn options_were_renamed_in_20_11() {
        let old = Features::of(DpdkVersion::new(19, 11, 3)).unwrap();
        assert_eq!(
            (old.main_lcore_flag, old.allow_flag),
            ("--master-lcore", "-w")
        );
        assert!(!old.memif_server_client && !old.memif_socket_abstract);
        let new = Features::of(DpdkVersion::new(22, 11, 11)).unwrap();
        assert_eq!(
            (new.main_lcore_flag, new.allow_flag),
            ("--main-lcore", "-a")
        );
        assert!(new.memif_server_client && new.memif_socket_abstract);
    }

    #[test]
    fn releases_before_18_11_are_not_supported() {
        assert!(Features::of(DpdkVersion::new(17, 11, 0)).is_none());
    }

    #[test]
    fn finds_dpdk_testpmd_before_the_old_name() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        for n in ["testpmd", "dpdk-testpmd"] {
            let p = d.path().join(n);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let found = find_testpmd(Some(d.path().as_os_str())).unwrap();
        assert_eq!(found.file_name().unwrap(), "dpdk-testpmd");
    }

    #[test]
    fn abi_is_read_from_the_highest_librte_eal_soname() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "librte_eal.so",
            "librte_eal.so.23",
            "librte_eal.so.23.0",
            "librte_eal.so.22",
        ] {
            std::fs::write(d.path().join(n), "").unwrap();
        }
        let (v, _) = abi_version(&[d.path().to_owned()]).unwrap();
        assert_eq!(v, DpdkVersion::new(22, 11, 0));
    }
}
