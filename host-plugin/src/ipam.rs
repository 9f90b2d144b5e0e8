//! IPAM delegation: run `$CNI_PATH/<ipam.type>` with the runtime's environment and the same
//! network config on stdin, as the CNI spec's delegation rules say.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cni::{CniCommand, CniError, ErrorCode, Verb};

/// Finds the IPAM plugin binary on `CNI_PATH`.
pub fn find_plugin(cmd: &CniCommand, plugin: &str) -> Result<PathBuf, CniError> {
    if plugin.is_empty() || plugin.contains('/') || plugin.starts_with('.') {
        return Err(CniError::new(
            ErrorCode::InvalidConfig,
            format!("ipam.type {plugin:?} is not a plugin name"),
        ));
    }
    which::which_in(plugin, Some(&cmd.path_raw), "/").map_err(|_| {
        CniError::new(
            ErrorCode::InvalidConfig,
            format!(
                "IPAM plugin {plugin:?} not found in CNI_PATH={:?}",
                cmd.path_raw
            ),
        )
    })
}

/// Runs the IPAM plugin for `verb` and returns its stdout (the result JSON for ADD).
///
/// A delegate older than the config (Debian 12's host-local stops at 1.0.0) answers code 1;
/// then the config is passed again at the newest version the delegate lists in VERSION, and
/// the caller converts the result to the config's version.
pub fn exec(cmd: &CniCommand, plugin: &str, verb: Verb, stdin: &[u8]) -> Result<Vec<u8>, CniError> {
    match exec_once(cmd, plugin, verb, stdin) {
        Err(e) if e.code == ErrorCode::IncompatibleVersion => {
            let downgraded = downgrade(cmd, plugin, stdin).ok_or(e)?;
            exec_once(cmd, plugin, verb, &downgraded)
        }
        r => r,
    }
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
) -> Result<Vec<u8>, CniError> {
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
        .map_err(|e| {
            CniError::new(
                ErrorCode::Io,
                format!("cannot run IPAM plugin {}", bin.display()),
            )
            .with_details(e.to_string())
        })?;
    if let Some(mut input) = child.stdin.take() {
        // A delegate that exits without reading stdin is not an error of ours.
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().map_err(|e| {
        CniError::new(ErrorCode::Io, format!("IPAM plugin {plugin}")).with_details(e.to_string())
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    // The delegate's own error JSON keeps its code (e.g. 11 when the lease store is busy).
    let text = String::from_utf8_lossy(&out.stdout);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let code = v["code"].as_u64().unwrap_or(0);
        let msg = v["msg"].as_str().unwrap_or("failed");
        let code = match code {
            1 => ErrorCode::IncompatibleVersion,
            11 => ErrorCode::TryAgainLater,
            7 => ErrorCode::InvalidConfig,
            _ => ErrorCode::Internal,
        };
        return Err(
            CniError::new(code, format!("IPAM plugin {plugin} {verb}: {msg}"))
                .with_details(v["details"].as_str().unwrap_or_default().to_owned()),
        );
    }
    Err(CniError::new(
        ErrorCode::Internal,
        format!("IPAM plugin {plugin} {verb} failed ({})", out.status),
    )
    .with_details(format!(
        "{}{}",
        text.trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn args_string(cmd: &CniCommand) -> String {
    cmd.args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}
