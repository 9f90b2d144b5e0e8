//! The script of the plugin-installer DaemonSet (k8s/plugin-installer.yaml), run for real by
//! `sh` against a temporary directory standing for the node and the pod's service-account
//! volume, up to its refresh loop; then the plugin's own Kubernetes client reads the
//! kubeconfig it wrote.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use userspace_plugin::k8s::{PodRef, Session};

/// The kubeconfig path on the node, as the NetworkAttachmentDefinitions name it.
const KUBECONFIG: &str = "/etc/cni/net.d/userspace.d/userspace.kubeconfig";
/// Where the plugin binary sits in the installer image.
const IMAGE_PLUGIN: &str = "/usr/local/bin/userspace";
/// Where kubelet mounts the service-account token, CA and namespace.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The DaemonSet container's `sh -c` script.
fn installer_script() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s/plugin-installer.yaml");
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], serde_json::json!(["/bin/sh", "-c"]));
    c["args"][0].as_str().unwrap().to_owned()
}

/// A fake node: the host directories the DaemonSet mounts, the image's plugin binary, and the
/// pod's service-account volume.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = Self { dir };
        for d in ["opt/cni/bin", "etc/cni/net.d/userspace.d", "image", "sa"] {
            std::fs::create_dir_all(node.path(d)).unwrap();
        }
        std::fs::write(node.path("image/userspace"), "#!/bin/sh\necho plugin\n").unwrap();
        std::fs::write(node.path("sa/token"), "header.payload.signature").unwrap();
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ca.crt");
        std::fs::copy(ca, node.path("sa/ca.crt")).unwrap();
        node
    }

    /// A path on the node (or in the fake image / service-account volume).
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel.trim_start_matches('/'))
    }

    /// Runs the script up to its refresh loop, with the given service address.
    fn install(&self, service_host: &str) {
        let script = installer_script();
        let until_loop = &script[..script.find("trap ").expect("the script's refresh loop")];
        let conf = self.path("etc/cni/net.d/userspace.d");
        // Placeholders first: the host paths contain the in-pod paths as suffixes.
        let relocated = until_loop
            .replace("/host/etc/cni/net.d/userspace.d", "@CONF@")
            .replace("/etc/cni/net.d/userspace.d", "@CONF@")
            .replace("/host/opt/cni/bin", "@BIN@")
            .replace(SERVICE_ACCOUNT, "@SA@")
            .replace(IMAGE_PLUGIN, "@PLUGIN@")
            .replace("@CONF@", conf.to_str().unwrap())
            .replace("@BIN@", self.path("opt/cni/bin").to_str().unwrap())
            .replace("@SA@", self.path("sa").to_str().unwrap())
            .replace("@PLUGIN@", self.path("image/userspace").to_str().unwrap());
        let out = Command::new("sh")
            .arg("-c")
            .arg(&relocated)
            .env("KUBERNETES_SERVICE_HOST", service_host)
            .env("KUBERNETES_SERVICE_PORT", "443")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the installer script failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }
}

#[test]
fn the_installer_puts_an_executable_userspace_into_the_cni_bin_directory() {
    let node = Node::new();
    node.install("10.96.0.1");
    assert_eq!(
        std::fs::read(node.path("opt/cni/bin/userspace")).unwrap(),
        std::fs::read(node.path("image/userspace")).unwrap()
    );
    assert_eq!(node.mode("opt/cni/bin/userspace"), 0o755);
    let names: Vec<String> = std::fs::read_dir(node.path("opt/cni/bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["userspace"], "no temporary file is left behind");
}

#[test]
fn the_installers_kubeconfig_is_accepted_by_the_plugins_kubernetes_client() {
    let node = Node::new();
    node.install("10.96.0.1");
    let pod = PodRef {
        namespace: "default".into(),
        name: "dpdk-app-0".into(),
    };
    // Builds the client (CA parsed, token file read) without contacting any server.
    if let Err(e) = Session::connect(node.path(KUBECONFIG).to_str().unwrap(), pod) {
        panic!("the plugin rejects the kubeconfig: {e:?}");
    }
}

#[test]
fn the_installers_kubeconfig_uses_the_service_address_and_a_token_file() {
    let node = Node::new();
    node.install("10.96.0.1");
    let kc: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(node.path(KUBECONFIG)).unwrap()).unwrap();
    let conf = node.path("etc/cni/net.d/userspace.d");
    assert_eq!(
        kc["clusters"][0]["cluster"]["server"],
        "https://10.96.0.1:443"
    );
    assert_eq!(
        kc["users"][0]["user"]["tokenFile"],
        conf.join("token").to_str().unwrap()
    );
    assert_eq!(
        std::fs::read(conf.join("token")).unwrap(),
        std::fs::read(node.path("sa/token")).unwrap()
    );
}

#[test]
fn an_ipv6_service_address_is_bracketed_in_the_kubeconfig_server() {
    let node = Node::new();
    node.install("fd00:10:96::1");
    let kc: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(node.path(KUBECONFIG)).unwrap()).unwrap();
    assert_eq!(
        kc["clusters"][0]["cluster"]["server"],
        "https://[fd00:10:96::1]:443"
    );
}

#[test]
fn the_installers_credentials_are_readable_by_root_only() {
    let node = Node::new();
    node.install("10.96.0.1");
    for f in ["token", "ca.crt", "userspace.kubeconfig"] {
        assert_eq!(
            node.mode(&format!("etc/cni/net.d/userspace.d/{f}")),
            0o600,
            "{f}"
        );
    }
}
