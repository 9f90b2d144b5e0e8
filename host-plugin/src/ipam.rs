//! IPAM delegation: run `$CNI_PATH/<ipam.type>` with the runtime's environment and the same
//! network config on stdin, as the CNI spec's delegation rules say.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use userspace_cni_sdk::wire::CniResult;

use crate::cni::{CniCommand, Verb};

/// IPAM delegation's failures (their CNI codes are decided in `cni::classify`).
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// `ipam.type` could name a file elsewhere.
    #[error("ipam.type {0:?} is not a plugin name")]
    NotAPluginName(String),
    /// No such plugin on `CNI_PATH`.
    #[error("IPAM plugin {plugin:?} not found in CNI_PATH={cni_path:?}")]
    NotFound {
        /// `ipam.type`.
        plugin: String,
        /// `CNI_PATH`.
        cni_path: String,
    },
    /// The plugin could not be started.
    #[error("cannot run IPAM plugin {}", bin.display())]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Its output could not be read.
    #[error("IPAM plugin {plugin}")]
    Wait {
        /// `ipam.type`.
        plugin: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The plugin answered with its CNI error (its code is passed on where the runtime
    /// acts on it).
    #[error("IPAM plugin {plugin} {verb}: {msg}")]
    Failed {
        /// `ipam.type`.
        plugin: String,
        /// The verb it ran.
        verb: Verb,
        /// Its `code`.
        code: u64,
        /// Its `msg`.
        msg: String,
        /// Its `details`.
        #[source]
        details: Said,
    },
    /// ADD's result is not a CNI result.
    #[error("IPAM plugin {plugin} returned an unreadable result")]
    UnreadableResult {
        /// `ipam.type`.
        plugin: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The plugin failed without a CNI error on stdout.
    #[error("IPAM plugin {plugin} {verb} failed ({status})")]
    Unreadable {
        /// `ipam.type`.
        plugin: String,
        /// The verb it ran.
        verb: Verb,
        /// How it exited.
        status: ExitStatus,
        /// What it printed, stdout then stderr.
        #[source]
        output: Said,
    },
}

/// What a delegate said beyond its message: the details of a failure, kept as the cause so
/// that they end up in the CNI error's `details`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Said(pub String);

/// Finds the IPAM plugin binary on `CNI_PATH`.
pub fn find_plugin(cmd: &CniCommand, plugin: &str) -> Result<PathBuf, IpamError> {
    if plugin.is_empty() || plugin.contains('/') || plugin.starts_with('.') {
        return Err(IpamError::NotAPluginName(plugin.to_owned()));
    }
    which::which_in(plugin, Some(&cmd.path_raw), "/").map_err(|_| IpamError::NotFound {
        plugin: plugin.to_owned(),
        cni_path: cmd.path_raw.clone(),
    })
}

/// Runs the IPAM plugin for `verb` and returns its stdout (the result JSON for ADD).
///
/// A delegate older than the config (Debian 12's host-local stops at 1.0.0) answers code 1;
/// then the config is passed again at the newest version the delegate lists in VERSION, and
/// the caller converts the result to the config's version.
pub fn exec(
    cmd: &CniCommand,
    plugin: &str,
    verb: Verb,
    stdin: &[u8],
) -> Result<Vec<u8>, IpamError> {
    match exec_once(cmd, plugin, verb, stdin) {
        // 1: the CNI spec's "incompatible CNI version".
        Err(e @ IpamError::Failed { code: 1, .. }) => {
            let downgraded = downgrade(cmd, plugin, stdin).ok_or(e)?;
            exec_once(cmd, plugin, verb, &downgraded)
        }
        r => r,
    }
}

/// ADD's answer, read as a CNI result.
pub fn result(plugin: &str, stdout: &[u8]) -> Result<CniResult, IpamError> {
    serde_json::from_slice(stdout).map_err(|source| IpamError::UnreadableResult {
        plugin: plugin.to_owned(),
        source,
    })
}

/// Whether the delegate lists `version` in its VERSION answer (e.g. `1.1.0`, where STATUS and
/// GC exist). A delegate that cannot be asked does not.
pub fn supports(cmd: &CniCommand, plugin: &str, version: &str) -> bool {
    supported_versions(cmd, plugin).iter().any(|v| v == version)
}

fn supported_versions(cmd: &CniCommand, plugin: &str) -> Vec<String> {
    exec_once(cmd, plugin, Verb::Version, b"{}")
        .ok()
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out).ok())
        .and_then(|v| {
            v["supportedVersions"].as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn downgrade(cmd: &CniCommand, plugin: &str, stdin: &[u8]) -> Option<Vec<u8>> {
    let theirs = supported_versions(cmd, plugin);
    let best = crate::cni::SUPPORTED_VERSIONS
        .iter()
        .rev()
        .find(|ours| theirs.iter().any(|t| t == *ours))?;
    let mut conf: serde_json::Value = serde_json::from_slice(stdin).ok()?;
    conf["cniVersion"] = (*best).into();
    tracing::info!("IPAM plugin {plugin} does not speak the config's version; using {best}");
    serde_json::to_vec(&conf).ok()
}

fn exec_once(
    cmd: &CniCommand,
    plugin: &str,
    verb: Verb,
    stdin: &[u8],
) -> Result<Vec<u8>, IpamError> {
    let bin = find_plugin(cmd, plugin)?;
    let mut child = Command::new(&bin)
        .env("CNI_COMMAND", verb.to_string())
        .env("CNI_CONTAINERID", &cmd.container_id)
        .env("CNI_NETNS", cmd.netns.as_deref().unwrap_or(Path::new("")))
        .env("CNI_IFNAME", &cmd.ifname)
        .env("CNI_ARGS", args_string(cmd))
        .env("CNI_PATH", &cmd.path_raw)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| IpamError::Spawn {
            bin: bin.clone(),
            source,
        })?;
    if let Some(mut input) = child.stdin.take() {
        // A delegate that exits without reading stdin is not an error of ours.
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().map_err(|source| IpamError::Wait {
        plugin: plugin.to_owned(),
        source,
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    // The delegate's own error JSON keeps its code (e.g. 11 when the lease store is busy).
    let text = String::from_utf8_lossy(&out.stdout);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        return Err(IpamError::Failed {
            plugin: plugin.to_owned(),
            verb,
            code: v["code"].as_u64().unwrap_or(0),
            msg: v["msg"].as_str().unwrap_or("failed").to_owned(),
            details: Said(v["details"].as_str().unwrap_or_default().to_owned()),
        });
    }
    Err(IpamError::Unreadable {
        plugin: plugin.to_owned(),
        verb,
        status: out.status,
        output: Said(format!(
            "{}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    })
}

fn args_string(cmd: &CniCommand) -> String {
    cmd.args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}
