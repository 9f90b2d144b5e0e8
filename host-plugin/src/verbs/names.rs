//! The names an attachment derives from its config and identity: its socket file and its
//! container's directory under `sharedDir`. ADD makes them; the sweep of a DEL without a
//! whole journal looks for them.

use std::path::PathBuf;

use userspace_cni_sdk::shared_files;
use userspace_cni_sdk::wire::IfType;

use crate::config::Config;
use crate::identity::{AttachmentId, fnv1a64};
use crate::shared_dir;

/// The container's directory under `sharedDir`: the plain one, and the one it gets when
/// another container (with the same ID prefix) holds the plain one.
pub fn managed_dir_candidates(config: &Config, id: &AttachmentId) -> [PathBuf; 2] {
    let dir_name = |d| shared_files::container_dir_name(&id.container_id, d);
    // The marker keeps the hash's low 24 bits.
    let h = fnv1a64(id.container_id.as_str().as_bytes()) as u32;
    [
        shared_dir::managed_dir(config, &dir_name(None)),
        shared_dir::managed_dir(config, &dir_name(Some(h))),
    ]
}

/// The socket file name: the configured one, else `memif-<stem>.sock` for memif and `<stem>`
/// for vhost-user (the Go plugin's names, with `<stem>` = `<id12>-<ifname>`).
pub fn socket_name(config: &Config, stem: &str) -> String {
    let configured = match config.iftype {
        IfType::Memif => config
            .host
            .memif
            .as_ref()
            .and_then(|m| m.socketfile.clone()),
        IfType::Vhostuser => config
            .host
            .vhost
            .as_ref()
            .and_then(|v| v.socketfile.clone()),
    };
    configured.unwrap_or_else(|| match config.iftype {
        IfType::Memif => shared_files::memif_socket_file(stem),
        IfType::Vhostuser => shared_files::vhost_socket_file(stem),
    })
}
