//! A kubelet-like driver: the pod lifecycle kubelet runs through the CRI, with the pod's
//! volumes laid out as kubelet lays them out under its root directory:
//!
//! - emptyDir `<root>/pods/<uid>/volumes/kubernetes.io~empty-dir/<volume>`,
//! - downwardAPI `<root>/pods/<uid>/volumes/kubernetes.io~downward-api/<volume>/<path>`
//!   (`metadata.annotations` / `metadata.labels`, in kubelet's `key="value"` format),
//! - `<root>/pods/<uid>/etc-hosts` on `/etc/hosts`, and a termination-log file,
//! - logs in `<log root>/<namespace>_<name>_<uid>/<container>/<restart>.log`.
//!
//! RunPodSandbox (metadata, uid, labels, annotations, log directory, cgroup parent) →
//! the downward-API files refreshed from the API server (the plugins annotate the pod during
//! the sandbox's CNI ADD; kubelet's periodic sync does the same) → CreateContainer and
//! StartContainer for each container → at removal StopPodSandbox → RemovePodSandbox, the
//! pod directory and the API object go. Not supported (refused): hugepages emptyDirs and
//! volume types other than emptyDir, downwardAPI and hostPath.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use userspace_cni_sdk::podinfo::downward::quote;

use crate::cri::Runtime;

/// Where the node keeps things.
#[derive(Debug, Clone)]
pub struct NodeDirs {
    /// kubelet's `--root-dir` (`/var/lib/kubelet` on a real node).
    pub kubelet_root: PathBuf,
    /// `/var/log/pods` on a real node.
    pub log_root: PathBuf,
    /// The cgroup parent of every pod.
    pub cgroup_parent: String,
    /// CPUs of every container (what a static CPU manager would assign); none: unpinned.
    pub cpuset: Option<String>,
}

/// A started pod.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Started {
    /// Pod UID.
    pub uid: String,
    /// Sandbox ID.
    pub sandbox: String,
    /// Container name → ID.
    pub containers: BTreeMap<String, String>,
}

const LABEL_NAME: &str = "io.kubernetes.pod.name";
const LABEL_NAMESPACE: &str = "io.kubernetes.pod.namespace";
const LABEL_UID: &str = "io.kubernetes.pod.uid";

impl NodeDirs {
    /// `<root>/pods/<uid>`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.kubelet_root.join("pods").join(uid)
    }

    /// `<log root>/<namespace>_<name>_<uid>`.
    pub fn log_dir(&self, ns: &str, name: &str, uid: &str) -> PathBuf {
        self.log_root.join(format!("{ns}_{name}_{uid}"))
    }
}

fn meta(pod: &Pod) -> Result<(String, String, String)> {
    let name = pod
        .metadata
        .name
        .clone()
        .context("the pod has no metadata.name")?;
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let uid = pod
        .metadata
        .uid
        .clone()
        .context("the pod has no metadata.uid")?;
    Ok((ns, name, uid))
}

/// The contents of a downward-API file with the given map, as kubelet writes it: one
/// `key="value"` line per entry, sorted by key, the value quoted like Go's `strconv.Quote`.
pub fn downward_text(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}\n", quote(v)))
        .collect()
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Creates the pod's volume directories; returns volume name → host path.
pub fn lay_out_volumes(dirs: &NodeDirs, pod: &Pod) -> Result<HashMap<String, PathBuf>> {
    let (_, _, uid) = meta(pod)?;
    let pod_dir = dirs.pod_dir(&uid);
    let mut out = HashMap::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let path = if let Some(e) = &v.empty_dir {
            if e.medium
                .as_deref()
                .is_some_and(|m| m.starts_with("HugePages"))
            {
                bail!(
                    "volume {}: hugepages emptyDirs are not supported by this node harness",
                    v.name
                );
            }
            pod_dir
                .join("volumes/kubernetes.io~empty-dir")
                .join(&v.name)
        } else if v.downward_api.is_some() {
            pod_dir
                .join("volumes/kubernetes.io~downward-api")
                .join(&v.name)
        } else if let Some(h) = &v.host_path {
            PathBuf::from(&h.path)
        } else {
            bail!(
                "volume {}: only emptyDir, downwardAPI and hostPath are supported",
                v.name
            );
        };
        if v.host_path.is_none() {
            std::fs::create_dir_all(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            // kubelet makes emptyDirs world-writable: any pod user can use them.
            if v.empty_dir.is_some() {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
                    .with_context(|| format!("chmod {}", path.display()))?;
            }
        }
        out.insert(v.name.clone(), path);
    }
    std::fs::write(
        pod_dir.join("etc-hosts"),
        "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    )
    .context("writing etc-hosts")?;
    write_downward_files(dirs, pod)?;
    Ok(out)
}

/// (Re)writes every downwardAPI volume's files from the pod object.
pub fn write_downward_files(dirs: &NodeDirs, pod: &Pod) -> Result<()> {
    let (_, _, uid) = meta(pod)?;
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(d) = &v.downward_api else { continue };
        let dir = dirs
            .pod_dir(&uid)
            .join("volumes/kubernetes.io~downward-api")
            .join(&v.name);
        for item in d.items.iter().flatten() {
            let field = item.field_ref.as_ref().map(|f| f.field_path.as_str());
            let map = match field {
                Some("metadata.annotations") => pod.metadata.annotations.clone(),
                Some("metadata.labels") => pod.metadata.labels.clone(),
                other => bail!(
                    "volume {}: downward field {other:?} is not supported",
                    v.name
                ),
            }
            .unwrap_or_default();
            write_atomically(&dir.join(&item.path), &downward_text(&map))?;
        }
    }
    Ok(())
}

/// The sandbox config kubelet would send.
pub fn sandbox_config(dirs: &NodeDirs, pod: &Pod) -> Result<cri::PodSandboxConfig> {
    let (ns, name, uid) = meta(pod)?;
    let spec = pod.spec.as_ref();
    let psc = spec.and_then(|s| s.security_context.as_ref());
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let labels = HashMap::from([
        (LABEL_NAME.to_owned(), name.clone()),
        (LABEL_NAMESPACE.to_owned(), ns.clone()),
        (LABEL_UID.to_owned(), uid.clone()),
    ]);
    Ok(cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.clone(),
            uid: uid.clone(),
            namespace: ns.clone(),
            attempt: 0,
        }),
        // Host-network pods get no hostname file (and no CNI call).
        hostname: if host_network {
            String::new()
        } else {
            name.clone()
        },
        log_directory: dirs.log_dir(&ns, &name, &uid).display().to_string(),
        labels,
        annotations: pod
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: format!("/{}/pod{uid}", dirs.cgroup_parent),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: if host_network {
                        cri::NamespaceMode::Node as i32
                    } else {
                        cri::NamespaceMode::Pod as i32
                    },
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                run_as_user: psc
                    .and_then(|c| c.run_as_user)
                    .map(|value| cri::Int64Value { value }),
                supplemental_groups: psc
                    .and_then(|c| c.supplemental_groups.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The container config kubelet would send.
pub fn container_config(
    dirs: &NodeDirs,
    pod: &Pod,
    c: &Container,
    volumes: &HashMap<String, PathBuf>,
) -> Result<cri::ContainerConfig> {
    let (ns, name, uid) = meta(pod)?;
    let pod_dir = dirs.pod_dir(&uid);
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let sc = c.security_context.as_ref();
    let mut mounts = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let host = volumes
            .get(&m.name)
            .with_context(|| format!("container {}: no volume {}", c.name, m.name))?;
        mounts.push(cri::Mount {
            container_path: m.mount_path.clone(),
            host_path: host.display().to_string(),
            readonly: m.read_only.unwrap_or(false),
            ..Default::default()
        });
    }
    mounts.push(cri::Mount {
        container_path: "/etc/hosts".into(),
        host_path: pod_dir.join("etc-hosts").display().to_string(),
        ..Default::default()
    });
    let term_dir = pod_dir.join("containers").join(&c.name);
    std::fs::create_dir_all(&term_dir)
        .with_context(|| format!("creating {}", term_dir.display()))?;
    let term = term_dir.join("termination-log");
    std::fs::write(&term, "").with_context(|| format!("creating {}", term.display()))?;
    mounts.push(cri::Mount {
        container_path: "/dev/termination-log".into(),
        host_path: term.display().to_string(),
        ..Default::default()
    });
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    Ok(cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: c.name.clone(),
            attempt: 0,
        }),
        image: Some(cri::ImageSpec {
            image: c.image.clone().context("container has no image")?,
            ..Default::default()
        }),
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: c
            .env
            .iter()
            .flatten()
            .map(|e| cri::KeyValue {
                key: e.name.clone(),
                value: e.value.clone().unwrap_or_default(),
            })
            .collect(),
        mounts,
        labels: HashMap::from([
            ("io.kubernetes.container.name".to_owned(), c.name.clone()),
            (LABEL_NAME.to_owned(), name.clone()),
            (LABEL_NAMESPACE.to_owned(), ns.clone()),
            (LABEL_UID.to_owned(), uid.clone()),
        ]),
        log_path: format!("{}/0.log", c.name),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(cri::LinuxContainerResources {
                cpuset_cpus: dirs.cpuset.clone().unwrap_or_default(),
                ..Default::default()
            }),
            security_context: Some(cri::LinuxContainerSecurityContext {
                capabilities: caps.map(|k| cri::Capability {
                    add_capabilities: k.add.clone().unwrap_or_default(),
                    drop_capabilities: k.drop.clone().unwrap_or_default(),
                    ..Default::default()
                }),
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Pod as i32,
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                run_as_user: sc
                    .and_then(|s| s.run_as_user)
                    .or(psc.and_then(|s| s.run_as_user))
                    .map(|value| cri::Int64Value { value }),
                run_as_group: sc
                    .and_then(|s| s.run_as_group)
                    .or(psc.and_then(|s| s.run_as_group))
                    .map(|value| cri::Int64Value { value }),
                supplemental_groups: psc
                    .and_then(|s| s.supplemental_groups.clone())
                    .unwrap_or_default(),
                no_new_privs: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
                readonly_rootfs: sc
                    .and_then(|s| s.read_only_root_filesystem)
                    .unwrap_or(false),
                ..Default::default()
            }),
        }),
        ..Default::default()
    })
}

/// A random UUID from the kernel, as the API server would assign.
pub fn new_uid() -> Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .context("reading /proc/sys/kernel/random/uuid")?
        .trim()
        .to_owned())
}

/// The driver: the CRI runtime and the API server.
pub struct Kubelet {
    /// CRI.
    pub runtime: Runtime,
    /// The API server.
    pub kube: kube::Client,
    /// Directories.
    pub dirs: NodeDirs,
}

impl Kubelet {
    /// Registers the pod with the API server (when absent), lays out its volumes, runs the
    /// sandbox and starts its containers. A failing RunPodSandbox (a failed CNI ADD) is
    /// returned as it is: containerd has already torn the sandbox down; a later call retries,
    /// as kubelet does.
    pub async fn run_pod(&mut self, mut pod: Pod) -> Result<Started> {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        pod.metadata.namespace = Some(ns.clone());
        let name = pod
            .metadata
            .name
            .clone()
            .context("the pod has no metadata.name")?;
        let api = Api::<Pod>::namespaced(self.kube.clone(), &ns);
        pod = match api
            .get_opt(&name)
            .await
            .context("get pod from the API server")?
        {
            Some(p) => p,
            None => {
                if pod.metadata.uid.is_none() {
                    pod.metadata.uid = Some(new_uid()?);
                }
                api.create(&PostParams::default(), &pod)
                    .await
                    .context("create pod in the API server")?
            }
        };
        let (_, _, uid) = meta(&pod)?;
        let volumes = lay_out_volumes(&self.dirs, &pod)?;
        std::fs::create_dir_all(self.dirs.log_dir(&ns, &name, &uid))
            .context("creating the log dir")?;
        let config = sandbox_config(&self.dirs, &pod)?;
        let sandbox = self
            .runtime
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .with_context(|| format!("RunPodSandbox {ns}/{name}"))?
            .into_inner()
            .pod_sandbox_id;
        tracing::info!(pod = %name, %sandbox, "sandbox running");
        // The plugins annotated the pod during ADD: the downward-API files show that now.
        let pod = api
            .get(&name)
            .await
            .context("get pod after RunPodSandbox")?;
        write_downward_files(&self.dirs, &pod)?;
        let mut containers = BTreeMap::new();
        for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            let cc = container_config(&self.dirs, &pod, c, &volumes)?;
            let id = self
                .runtime
                .create_container(cri::CreateContainerRequest {
                    pod_sandbox_id: sandbox.clone(),
                    config: Some(cc),
                    sandbox_config: Some(config.clone()),
                })
                .await
                .with_context(|| format!("CreateContainer {}", c.name))?
                .into_inner()
                .container_id;
            self.runtime
                .start_container(cri::StartContainerRequest {
                    container_id: id.clone(),
                })
                .await
                .with_context(|| format!("StartContainer {}", c.name))?;
            containers.insert(c.name.clone(), id);
        }
        Ok(Started {
            uid,
            sandbox,
            containers,
        })
    }

    /// The sandboxes of a pod (by kubelet's labels).
    pub async fn sandboxes(&mut self, ns: &str, name: &str) -> Result<Vec<cri::PodSandbox>> {
        Ok(self
            .runtime
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    label_selector: HashMap::from([
                        (LABEL_NAME.to_owned(), name.to_owned()),
                        (LABEL_NAMESPACE.to_owned(), ns.to_owned()),
                    ]),
                    ..Default::default()
                }),
            })
            .await
            .context("ListPodSandbox")?
            .into_inner()
            .items)
    }

    /// Stops and removes the pod's sandboxes (each a CNI DEL), then its directories and its
    /// API object.
    pub async fn remove_pod(&mut self, ns: &str, name: &str) -> Result<()> {
        for sb in self.sandboxes(ns, name).await? {
            self.runtime
                .stop_pod_sandbox(cri::StopPodSandboxRequest {
                    pod_sandbox_id: sb.id.clone(),
                })
                .await
                .with_context(|| format!("StopPodSandbox {}", sb.id))?;
            self.runtime
                .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                    pod_sandbox_id: sb.id.clone(),
                })
                .await
                .with_context(|| format!("RemovePodSandbox {}", sb.id))?;
            if let Some(m) = &sb.metadata {
                let dir = self.dirs.pod_dir(&m.uid);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("removing {}", dir.display()))?;
                }
                let logs = self.dirs.log_dir(ns, name, &m.uid);
                if logs.exists() {
                    std::fs::remove_dir_all(&logs)
                        .with_context(|| format!("removing {}", logs.display()))?;
                }
            }
            tracing::info!(pod = %name, sandbox = %sb.id, "sandbox removed");
        }
        let api = Api::<Pod>::namespaced(self.kube.clone(), ns);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e).context("delete pod from the API server"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(root: &Path) -> NodeDirs {
        NodeDirs {
            kubelet_root: root.join("kubelet"),
            log_root: root.join("logs"),
            cgroup_parent: "node".into(),
            cpuset: Some("0".into()),
        }
    }

    fn pod() -> Pod {
        serde_saphyr::from_str(include_str!("../tests/fixtures/pod-forwarder.yaml")).unwrap()
    }

    #[test]
    fn downward_files_use_kubelets_quoting_sorted_by_key() {
        let m = BTreeMap::from([
            ("b".to_owned(), "two \"words\"".to_owned()),
            ("a".to_owned(), "[{\"x\":1}]\n".to_owned()),
        ]);
        assert_eq!(
            downward_text(&m),
            "a=\"[{\\\"x\\\":1}]\\n\"\nb=\"two \\\"words\\\"\"\n"
        );
    }

    #[test]
    fn volumes_are_laid_out_under_the_pod_directory_like_kubelets() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(t.path());
        let v = lay_out_volumes(&d, &pod()).unwrap();
        let uid = "5c0ffee0-0000-4000-8000-000000000001";
        let shared = t.path().join(format!(
            "kubelet/pods/{uid}/volumes/kubernetes.io~empty-dir/shared-dir"
        ));
        assert_eq!(v["shared-dir"], shared);
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o777);
        let podinfo = t.path().join(format!(
            "kubelet/pods/{uid}/volumes/kubernetes.io~downward-api/podinfo/annotations"
        ));
        assert_eq!(
            std::fs::read_to_string(podinfo).unwrap(),
            "k8s.v1.cni.cncf.io/networks=\"dpdk-a,dpdk-b\"\n"
        );
    }

    #[test]
    fn the_sandbox_carries_metadata_annotations_and_log_directory() {
        let t = tempfile::tempdir().unwrap();
        let c = sandbox_config(&dirs(t.path()), &pod()).unwrap();
        let m = c.metadata.unwrap();
        assert_eq!((m.name.as_str(), m.namespace.as_str()), ("fwd", "default"));
        assert_eq!(
            c.annotations["k8s.v1.cni.cncf.io/networks"],
            "dpdk-a,dpdk-b"
        );
        assert!(
            c.log_directory
                .ends_with("logs/default_fwd_5c0ffee0-0000-4000-8000-000000000001")
        );
        assert_eq!(c.hostname, "fwd");
    }

    #[test]
    fn containers_get_the_volume_mounts_user_groups_and_cpuset() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(t.path());
        let p = pod();
        let v = lay_out_volumes(&d, &p).unwrap();
        let c = container_config(&d, &p, &p.spec.as_ref().unwrap().containers[0], &v).unwrap();
        let paths: Vec<_> = c.mounts.iter().map(|m| m.container_path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/etc/podinfo",
                "/var/lib/cni/usrspcni",
                "/ctl",
                "/etc/hosts",
                "/dev/termination-log"
            ]
        );
        let sc = c.linux.as_ref().unwrap().security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_user.as_ref().map(|u| u.value), Some(10001));
        assert_eq!(sc.supplemental_groups, [4242]);
        assert_eq!(c.linux.unwrap().resources.unwrap().cpuset_cpus, "0");
    }

    #[test]
    fn hugepages_emptydirs_are_refused_by_name() {
        let t = tempfile::tempdir().unwrap();
        let mut p = pod();
        p.spec.as_mut().unwrap().volumes.as_mut().unwrap()[0]
            .empty_dir
            .as_mut()
            .unwrap()
            .medium = Some("HugePages".into());
        let e = lay_out_volumes(&dirs(t.path()), &p).unwrap_err();
        assert!(e.to_string().contains("hugepages"), "{e}");
    }
}
