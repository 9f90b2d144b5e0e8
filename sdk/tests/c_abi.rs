//! The C example (`examples/c/testpmd_line.c`) compiles against the SDK's shared library and reports the SDK's error text
//! through `userspace_last_error` when the pod has no interfaces.

use std::path::Path;
use std::process::Command;

#[test]
fn the_c_example_links_and_reports_errors_through_the_abi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let target = root.join("target/debug");
    assert!(
        target.join("libuserspace_cni_sdk.so").exists(),
        "no libuserspace_cni_sdk.so in {}: run `cargo build -p userspace-cni-sdk` first (scripts/test.sh does)",
        target.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("testpmd_line");
    let cc = Command::new("cc")
        .arg(root.join("examples/c/testpmd_line.c"))
        .arg("-L")
        .arg(&target)
        .arg("-luserspace_cni_sdk")
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("cc (install gcc)");
    assert!(cc.success());
    let out = Command::new(&exe)
        .env("LD_LIBRARY_PATH", &target)
        .env("USERSPACE_PODINFO", dir.path().join("none"))
        .env("USERSPACE_SHARED_DIR", dir.path().join("none"))
        .env("USERSPACE_CONTAINER_ID", "abc")
        .env("USERSPACE_DPDK_VERSION", "22.11")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("userspace: no userspace interfaces"), "{err}");
}
