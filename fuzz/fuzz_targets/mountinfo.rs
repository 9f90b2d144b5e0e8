//! /proc/self/mountinfo as a container may present it, then container ID discovery on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userspace_cni_sdk::{container_id, procfs::mountinfo};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mounts) = mountinfo::parse(text) {
        if let Some(found) = container_id::from_mountinfo(&mounts) {
            assert_eq!(found.id.prefix12().len(), 12);
        }
    }
    let _ = container_id::from_mountinfo_text(text);
});
