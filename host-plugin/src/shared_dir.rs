//! The host directory that holds an attachment's socket and files, and that the pod mounts.

use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};
use userspace_cni_sdk::MAX_SOCKET_PATH;

use crate::config::Config;

use crate::config::DEFAULT_SHARED_BASE as DEFAULT_BASE;

/// What goes wrong with shared directories, their aliases and sockets (the CNI codes are
/// decided in `cni::classify`).
#[derive(Debug, thiserror::Error)]
pub enum SharedDirError {
    /// The directory is not under an allowed root.
    #[error(
        "shared directory {} is outside the allowed roots ({}); add its parent to allowedSharedDirRoots",
        dir.display(),
        allowed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    OutsideRoots {
        /// The directory.
        dir: PathBuf,
        /// `allowedSharedDirRoots`.
        allowed: Vec<PathBuf>,
    },
    /// The socket's path does not fit a unix socket address.
    #[error(
        "socket path {} is {len} bytes; unix sockets allow {MAX_SOCKET_PATH}: use a shorter sharedDir",
        path.display()
    )]
    SocketPathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// Something else is where the directory goes.
    #[error("shared directory {} exists and is not a plain directory", dir.display())]
    NotADirectory {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory could not be made (or given its mode).
    #[error("cannot create shared directory {}", dir.display())]
    Create {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The group database could not be read.
    #[error("looking up group {group}")]
    GroupLookup {
        /// `host.vhost.group`.
        group: String,
        /// The cause.
        #[source]
        source: Errno,
    },
    /// `host.vhost.group` names no group.
    #[error("host.vhost.group: no group named {group:?}")]
    NoSuchGroup {
        /// The name.
        group: String,
    },
    /// The directory could not be given to the group.
    #[error("chown {}", dir.display())]
    Chown {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: Errno,
    },
    /// The alias path has no root directory above it.
    #[error("no alias root above {}", mount.display())]
    NoAliasRoot {
        /// The alias.
        mount: PathBuf,
    },
    /// The alias' parent could not be made or opened.
    #[error("{what} {}", mount.display())]
    AliasIo {
        /// What was being done.
        what: &'static str,
        /// The alias.
        mount: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The alias root is not a directory the plugin can use.
    #[error("socket alias root {}: {reason}", root.display())]
    AliasRoot {
        /// The root.
        root: PathBuf,
        /// Why.
        reason: String,
    },
    /// The alias directory is not one the plugin can use.
    #[error("alias {}: {reason}", mount.display())]
    AliasDir {
        /// The alias.
        mount: PathBuf,
        /// Why.
        reason: String,
    },
    /// The directory could not be bind-mounted on its alias.
    #[error("cannot bind-mount {} on {}", dir.display(), mount.display())]
    BindMountAlias {
        /// The directory.
        dir: PathBuf,
        /// The alias.
        mount: PathBuf,
        /// The cause.
        #[source]
        source: Errno,
    },
    /// A directory is where the socket goes.
    #[error("a directory is in the way of the socket {}", path.display())]
    InTheWay {
        /// The socket's path.
        path: PathBuf,
    },
    /// A stale entry where the socket goes could not be removed.
    #[error("cannot remove {}", path.display())]
    Remove {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// `<sharedDir or default>/<name>/`: the plugin's own per-container directory (`name` is the
/// 12-character ID prefix, as in the Go plugin's fallback, unless another container holds it).
pub fn managed_dir(config: &Config, name: &str) -> PathBuf {
    let base = config.net.shared_dir.as_deref().unwrap_or(DEFAULT_BASE);
    Path::new(base).join(name)
}

/// Refuses a directory outside the allowed roots (a pod's hostPath must not make the plugin
/// write anywhere). Paths are compared component-wise after normalising `.` and `..`.
pub fn check_allowed(dir: &Path, allowed: &[PathBuf]) -> Result<(), SharedDirError> {
    // Symlinks in the part that exists are resolved: a link under an allowed root that points
    // elsewhere must not let the plugin create directories there.
    let norm = resolve_existing(&normalize(dir));
    if allowed
        .iter()
        .any(|root| norm.starts_with(resolve_existing(&normalize(root))))
    {
        Ok(())
    } else {
        Err(SharedDirError::OutsideRoots {
            dir: dir.to_owned(),
            allowed: allowed.to_vec(),
        })
    }
}

/// `p` with its longest existing ancestor canonicalised (symlinks resolved), the rest kept.
fn resolve_existing(p: &Path) -> PathBuf {
    let mut head = p.to_path_buf();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = fs::canonicalize(&head) {
            let mut out = real;
            for c in tail.iter().rev() {
                out.push(c);
            }
            return out;
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                head = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A socket path must fit in `sun_path`; say so at ADD rather than fail later in the switch.
pub fn check_socket_path(path: &Path) -> Result<(), SharedDirError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(SharedDirError::SocketPathTooLong {
            path: path.to_owned(),
            len,
        });
    }
    Ok(())
}

/// Creates the directory (mode 0750, or 0770 with the vhost group owning it); returns
/// whether it was created here.
pub fn ensure(dir: &Path, group: Option<&str>) -> Result<bool, SharedDirError> {
    let io = |source| SharedDirError::Create {
        dir: dir.to_owned(),
        source,
    };
    if let Ok(meta) = fs::symlink_metadata(dir) {
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(SharedDirError::NotADirectory {
                dir: dir.to_owned(),
            });
        }
        return Ok(false);
    }
    // Resolve the group before creating anything, so a bad name leaves nothing behind.
    let gid = match group {
        Some(g) => Some(
            nix::unistd::Group::from_name(g)
                .map_err(|source| SharedDirError::GroupLookup {
                    group: g.to_owned(),
                    source,
                })?
                .ok_or_else(|| SharedDirError::NoSuchGroup {
                    group: g.to_owned(),
                })?
                .gid,
        ),
        None => None,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(io)?;
    // The mode is set again after creation: DirBuilder's is narrowed by the runtime's umask.
    let r = match gid {
        Some(gid) => nix::unistd::chown(dir, None, Some(gid))
            .map_err(|source| SharedDirError::Chown {
                dir: dir.to_owned(),
                source,
            })
            .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o770)).map_err(io)),
        None => fs::set_permissions(dir, fs::Permissions::from_mode(0o750)).map_err(io),
    };
    if let Err(e) = r {
        let _ = fs::remove_dir(dir);
        return Err(e);
    }
    Ok(true)
}

/// Bind-mounts `dir` at `mount` (an attachment's own alias under the alias root), so that
/// socket paths through it fit in `sun_path` (kubelet's emptyDir paths alone take ~100 bytes).
///
/// The alias root and the mount point are the plugin's: they are opened without following
/// symlinks, and the bind mount is made on the opened directory, never on a path that could
/// be redirected. A symlink at the mount point (the attachment's claimed name) is replaced;
/// one at the alias root is refused. The alias root's parent is the operator's.
pub fn mount_alias(dir: &Path, mount: &Path) -> Result<(), SharedDirError> {
    let io = |what, source| SharedDirError::AliasIo {
        what,
        mount: mount.to_owned(),
        source,
    };
    let no_root = || SharedDirError::NoAliasRoot {
        mount: mount.to_owned(),
    };
    let (Some(root), Some(name)) = (mount.parent(), mount.file_name()) else {
        return Err(no_root());
    };
    let (Some(base), Some(root_name)) = (root.parent(), root.file_name()) else {
        return Err(no_root());
    };
    // An alias left by an ADD that died midway (possibly of a directory that is gone) goes:
    // the name is this attachment's (its stem is claimed).
    if fs::symlink_metadata(mount).is_ok() {
        remove_alias(mount);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(base)
        .map_err(|e| io("cannot create the parent of", e))?;
    let base_fd = nix::fcntl::open(
        base,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("cannot open the parent of", e.into()))?;
    let root_fd =
        own_dir_at(&base_fd, root_name, false).map_err(|reason| SharedDirError::AliasRoot {
            root: root.to_owned(),
            reason,
        })?;
    let mount_fd = own_dir_at(&root_fd, name, true).map_err(|reason| SharedDirError::AliasDir {
        mount: mount.to_owned(),
        reason,
    })?;
    let target = format!("/proc/self/fd/{}", mount_fd.as_raw_fd());
    nix::mount::mount(
        Some(dir),
        target.as_str(),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| {
        let _ = nix::unistd::unlinkat(&root_fd, name, nix::unistd::UnlinkatFlags::RemoveDir);
        SharedDirError::BindMountAlias {
            dir: dir.to_owned(),
            mount: mount.to_owned(),
            source,
        }
    })
}

/// `name` under `parent` as a directory of the plugin's own (0750), made if missing, opened
/// without following a symlink. A symlink there is removed and replaced when `replace`, else
/// refused; anything else that is not a directory is refused.
fn own_dir_at(parent: &OwnedFd, name: &OsStr, replace: bool) -> Result<OwnedFd, String> {
    let mode = Mode::from_bits_truncate(0o750);
    let make = || match nix::sys::stat::mkdirat(parent, name, mode) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(format!("cannot create: {e}")),
    };
    make()?;
    let st = nix::sys::stat::fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| format!("cannot stat: {e}"))?;
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => {}
        SFlag::S_IFLNK if replace => {
            tracing::warn!("a symlink is where the alias {name:?} goes: replaced, not followed");
            nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| format!("cannot remove the symlink there: {e}"))?;
            make()?;
        }
        SFlag::S_IFLNK => return Err("is a symlink: refusing to follow it".into()),
        _ => return Err("exists and is not a directory".into()),
    }
    nix::fcntl::openat(
        parent,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open without following links: {e}"))
}

/// Unmounts and removes an alias made by [`mount_alias`]; what is not there is fine. A
/// symlink planted at the mount point is removed, not followed.
pub fn remove_alias(alias: &Path) {
    if fs::symlink_metadata(alias).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = fs::remove_file(alias);
        return;
    }
    let _ = nix::mount::umount2(
        alias,
        nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW,
    );
    let _ = fs::remove_dir(alias);
}

/// Clears the place where a socket will be created: a symlink planted there (which would
/// redirect the switch's or the app's `bind`), or a stale socket or file left by an earlier
/// attachment, is removed; a directory there is an error.
pub fn clear_socket_path(path: &Path) -> Result<(), SharedDirError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(SharedDirError::InTheWay {
            path: path.to_owned(),
        });
    }
    tracing::warn!(
        "removing {} ({}) where the socket goes",
        path.display(),
        if meta.file_type().is_symlink() {
            "a symlink"
        } else {
            "a stale entry"
        }
    );
    fs::remove_file(path).map_err(|source| SharedDirError::Remove {
        path: path.to_owned(),
        source,
    })
}

/// Gives the vhost group access to a socket that exists already (the switch made it).
pub fn share_socket(socket: &Path, group: &str) {
    if let Ok(Some(g)) = nix::unistd::Group::from_name(group)
        && nix::unistd::chown(socket, None, Some(g.gid)).is_ok()
    {
        let _ = fs::set_permissions(socket, fs::Permissions::from_mode(0o660));
    }
}

/// Removes the directory if it is empty; anything else in it stays.
pub fn remove_if_empty(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_out_of_an_allowed_root_is_refused() {
        let roots = [PathBuf::from("/var/lib/cni/usrspcni")];
        assert!(check_allowed(Path::new("/var/lib/cni/usrspcni/pod1"), &roots).is_ok());
        assert!(check_allowed(Path::new("/var/lib/cni/usrspcni/../../../etc"), &roots).is_err());
        assert!(check_allowed(Path::new("/var/lib/cni/usrspcni-evil"), &roots).is_err());
    }

    #[test]
    fn a_symlink_under_an_allowed_root_pointing_outside_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        let roots = [root.clone()];
        assert!(check_allowed(&root.join("evil/pod1"), &roots).is_err());
        assert!(check_allowed(&root.join("pod1/sub"), &roots).is_ok());
    }

    #[test]
    fn socket_paths_over_107_bytes_are_refused() {
        assert!(check_socket_path(&Path::new("/").join("x".repeat(106))).is_ok());
        let e = check_socket_path(&Path::new("/").join("x".repeat(107)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("108 bytes") || e.contains("unix sockets allow 107"),
            "{}",
            e
        );
    }

    #[test]
    fn a_symlink_where_a_socket_goes_is_removed_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let sock = d.path().join("sock");
        std::os::unix::fs::symlink(&victim, &sock).unwrap();
        clear_socket_path(&sock).unwrap();
        assert!(fs::symlink_metadata(&sock).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        fs::create_dir(&sock).unwrap();
        assert!(
            clear_socket_path(&sock).is_err(),
            "a directory is not removed"
        );
    }

    #[test]
    fn a_symlink_where_the_directory_goes_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("pod");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        assert!(ensure(&link, None).is_err());
        let real = d.path().join("pod2");
        assert!(ensure(&real, None).unwrap());
        assert!(!ensure(&real, None).unwrap());
    }

    fn mounted_at(p: &Path) -> bool {
        let want = p.display().to_string();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
    }

    #[test]
    fn a_symlink_at_the_alias_mount_point_is_replaced_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let (dir, victim, root) = (
            d.path().join("pod"),
            d.path().join("victim"),
            d.path().join("vs"),
        );
        for p in [&dir, &victim, &root] {
            fs::create_dir_all(p).unwrap();
        }
        fs::write(dir.join("sock"), "").unwrap();
        let mount = root.join("stem");
        std::os::unix::fs::symlink(&victim, &mount).unwrap();
        mount_alias(&dir, &mount).unwrap();
        let followed = mounted_at(&victim);
        let at_mount = mounted_at(&mount);
        remove_alias(&mount);
        assert!(!followed, "the symlink's target was mounted over");
        assert!(at_mount, "the alias is not mounted at its own path");
        assert!(fs::symlink_metadata(&mount).is_err(), "alias left");
        assert!(fs::read_dir(&victim).unwrap().next().is_none());
    }

    #[test]
    fn a_symlink_at_the_alias_root_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (dir, victim) = (d.path().join("pod"), d.path().join("victim"));
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(&victim).unwrap();
        let root = d.path().join("vs");
        std::os::unix::fs::symlink(&victim, &root).unwrap();
        let e = mount_alias(&dir, &root.join("stem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("symlink"), "{e}");
        assert!(!mounted_at(&victim.join("stem")));
        assert!(
            fs::read_dir(&victim).unwrap().next().is_none(),
            "nothing made through the link"
        );
    }
}
