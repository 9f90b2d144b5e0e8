//! What the pod reads: per-interface files in the shared directory and the NPWG device-info
//! file. Every write refuses to follow a symlink planted where the file goes, and is atomic.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use userspace_cni_sdk::shared_files;
use userspace_cni_sdk::wire::{ConfigurationData, DeviceInfo, VhostUserIp4Conf};

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}")]
pub struct PublishError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The temp file [`write_atomic`] writes `path` through: a fixed name next to it, so that an
/// undo after a kill finds and removes it (the attachment's lock keeps writers apart).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `bytes` to `path` through [`temp_path`] and a rename: the temp file is opened with
/// O_NOFOLLOW, and rename replaces a symlink at `path` instead of writing through it. The mode
/// is set explicitly, so the runtime's umask cannot narrow what the pod's user may read.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PublishError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |source| PublishError {
        path: path.to_owned(),
        source,
    };
    let tmp = temp_path(path);
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(err)?;
    let r = f
        .set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| f.write_all(bytes));
    if let Err(e) = r.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

/// `configData-<stem>.json` (the stem is `<id12>-<ifname>`): the plugin's configuration-data
/// entry for this interface, for pods without a kubeconfig-written annotation.
pub fn config_data_path(shared_dir: &Path, stem: &str) -> PathBuf {
    shared_dir.join(shared_files::config_data_file(stem))
}

/// `<stem>-ip4.conf`: the vhost-user CNI's address file, for old consumers.
pub fn ip4conf_path(shared_dir: &Path, stem: &str) -> PathBuf {
    shared_dir.join(shared_files::ip4conf_file(stem))
}

/// Writes the configuration-data file at `path`.
pub fn write_config_data(path: &Path, entry: &ConfigurationData) -> Result<(), PublishError> {
    let bytes = serde_json::to_vec_pretty(entry).map_err(|e| PublishError {
        path: path.to_owned(),
        source: e.into(),
    })?;
    write_atomic(path, &bytes, 0o644)
}

/// Writes the `-ip4.conf` file at `path`.
pub fn write_ip4conf(path: &Path, conf: &VhostUserIp4Conf) -> Result<(), PublishError> {
    let bytes = serde_json::to_vec_pretty(conf).map_err(|e| PublishError {
        path: path.to_owned(),
        source: e.into(),
    })?;
    write_atomic(path, &bytes, 0o644)
}

/// Writes the NPWG device-info file at the path the runtime gave.
pub fn write_device_info(path: &Path, info: &DeviceInfo) -> Result<(), PublishError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| PublishError {
            path: dir.to_owned(),
            source,
        })?;
    }
    let bytes = serde_json::to_vec(info).map_err(|e| PublishError {
        path: path.to_owned(),
        source: e.into(),
    })?;
    write_atomic(path, &bytes, 0o644)
}

/// Removes files; missing ones are fine (DEL is idempotent).
pub fn remove_files<'a>(
    paths: impl IntoIterator<Item = &'a PathBuf>,
) -> Vec<(PathBuf, std::io::Error)> {
    let mut failed = Vec::new();
    for p in paths {
        match fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => failed.push((p.clone(), e)),
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_replaced_not_written_through() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let target = d.path().join("configData-abc-net1.json");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_atomic(&target, b"{}", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            !fs::symlink_metadata(&target)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "{}");
    }

    #[test]
    fn files_get_the_requested_mode_and_no_temp_file_is_left() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        write_atomic(&p, b"x", 0o640).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn removing_missing_files_is_not_an_error() {
        let d = tempfile::tempdir().unwrap();
        assert!(remove_files(&[d.path().join("nope")]).is_empty());
    }
}
