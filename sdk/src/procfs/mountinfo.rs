//! `/proc/<pid>/mountinfo` parsing (proc(5)), including the octal escapes the kernel uses
//! for space, tab, newline and backslash in paths (`\040`, `\011`, `\012`, `\134`).

use std::path::PathBuf;

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Unique id of the mount.
    pub mount_id: u32,
    /// Id of the parent mount.
    pub parent_id: u32,
    /// `major:minor` of the backing device.
    pub major_minor: String,
    /// Path inside the source filesystem that is mounted here (for bind mounts, the file bound).
    pub root: PathBuf,
    /// Where it is mounted, relative to the process's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,relatime`).
    pub mount_options: String,
    /// Optional fields such as `shared:1` or `master:2`.
    pub optional_fields: Vec<String>,
    /// Filesystem type (`overlay`, `ext4`, `cgroup2`, `hugetlbfs`, …).
    pub fs_type: String,
    /// Mount source (`/dev/vda1`, `overlay`, `nodev`).
    pub source: String,
    /// Per-superblock options (`rw,pagesize=2M`).
    pub super_options: String,
}

/// A mountinfo line that does not follow proc(5).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("mountinfo line {line}: {reason}: {text:?}")]
pub struct MountInfoError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: &'static str,
    /// The offending line.
    pub text: String,
}

impl MountInfo {
    /// The value of a per-superblock option such as `pagesize` (`pagesize=2M` → `2M`).
    pub fn super_option(&self, key: &str) -> Option<&str> {
        self.super_options
            .split(',')
            .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
    }
}

/// Parses a whole mountinfo file; blank lines are ignored.
pub fn parse(text: &str) -> Result<Vec<MountInfo>, MountInfoError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_line(l).map_err(|reason| MountInfoError {
                line: i + 1,
                reason,
                text: l.to_owned(),
            })
        })
        .collect()
}

/// Parses one mountinfo line.
pub fn parse_line(line: &str) -> Result<MountInfo, &'static str> {
    let mut fields = line.split(' ');
    let mut next = |what: &'static str| fields.next().filter(|f| !f.is_empty()).ok_or(what);
    let mount_id = next("missing mount id")?
        .parse()
        .map_err(|_| "mount id is not a number")?;
    let parent_id = next("missing parent id")?
        .parse()
        .map_err(|_| "parent id is not a number")?;
    let major_minor = next("missing major:minor")?.to_owned();
    let root = PathBuf::from(unescape(next("missing root")?));
    let mount_point = PathBuf::from(unescape(next("missing mount point")?));
    let mount_options = next("missing mount options")?.to_owned();
    let mut optional_fields = Vec::new();
    loop {
        match next("missing '-' separator")? {
            "-" => break,
            f => optional_fields.push(f.to_owned()),
        }
    }
    let fs_type = next("missing filesystem type")?.to_owned();
    let source = unescape(next("missing mount source")?);
    let super_options = next("missing super options")?.to_owned();
    Ok(MountInfo {
        mount_id,
        parent_id,
        major_minor,
        root,
        mount_point,
        mount_options,
        optional_fields,
        fs_type,
        source,
        super_options,
    })
}

/// Decodes the kernel's `\ooo` octal escapes; anything else is kept as it is.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = (u32::from(oct[0] - b'0') << 6)
                    | (u32::from(oct[1] - b'0') << 3)
                    | u32::from(oct[2] - b'0');
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODMAN_HOSTNAME: &str = "1234 1200 254:1 /containers/storage/overlay-containers/4c0f7f2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180716253443526170/userdata/hostname /etc/hostname rw,nosuid,nodev,relatime - tmpfs tmpfs rw,size=1638400k,nr_inodes=819200,mode=755";

    #[test]
    fn splits_all_fields_of_a_bind_mount_line() {
        let m = parse_line(PODMAN_HOSTNAME).unwrap();
        assert_eq!(m.mount_id, 1234);
        assert_eq!(m.parent_id, 1200);
        assert_eq!(m.mount_point, PathBuf::from("/etc/hostname"));
        assert!(m.root.ends_with("userdata/hostname"));
        assert_eq!(m.fs_type, "tmpfs");
        assert_eq!(m.source, "tmpfs");
        assert!(m.optional_fields.is_empty());
    }

    #[test]
    fn keeps_optional_fields_before_the_separator() {
        let m = parse_line("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue").unwrap();
        assert_eq!(m.optional_fields, vec!["master:1", "shared:2"]);
        assert_eq!(m.fs_type, "ext3");
        assert_eq!(m.super_option("errors"), Some("continue"));
    }

    #[test]
    fn decodes_octal_escapes_for_space_tab_newline_and_backslash() {
        assert_eq!(
            unescape(r"/data\040root/a\011b\012c\134d"),
            "/data root/a\tb\nc\\d"
        );
        assert_eq!(unescape(r"\04"), r"\04");
        assert_eq!(unescape(r"tail\"), r"tail\");
        assert_eq!(unescape(r"\999"), r"\999");
    }

    #[test]
    fn reports_the_line_number_of_a_broken_line() {
        let err = parse("36 35 98:0 / / rw - ext4 /dev/vda rw\n\nnot a line\n").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn hugetlbfs_pagesize_is_a_super_option() {
        let m = parse_line("500 30 0:48 / /dev/hugepages rw,relatime shared:27 - hugetlbfs hugetlbfs rw,pagesize=2M").unwrap();
        assert_eq!(m.super_option("pagesize"), Some("2M"));
    }
}
