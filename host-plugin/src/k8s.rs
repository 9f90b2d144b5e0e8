//! The Kubernetes side, used when the NetConf has a `kubeconfig`: read the pod (its
//! `shared-dir` volume and where it is mounted) and publish the `userspace/configuration-data`
//! and `userspace/mapped-dir` annotations.
//!
//! Annotations are merged one entry at a time: GET the pod, replace or append this
//! interface's entry, PATCH with the `resourceVersion` that was read. A concurrent ADD for
//! another interface of the same pod makes the PATCH fail with 409 Conflict, and the merge is
//! redone on the fresh pod, so neither entry is lost.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use userspace_cni_sdk::wire::{
    CONFIGURATION_DATA_ANNOTATION, ConfigurationData, ConfigurationDataError,
    MAPPED_DIR_ANNOTATION, configuration_data, merge_entry, parse_configuration_data,
};

/// What goes wrong with the Kubernetes API (the CNI codes are decided in `cni::classify`).
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// The API server refused or could not be reached.
    #[error("{}", api_message(what, source))]
    Api {
        /// What was being done (`get pod ns/name`).
        what: String,
        /// kube's error.
        #[source]
        source: kube::Error,
    },
    /// The PATCH kept conflicting with other writers.
    #[error("{what}: still conflicting after {tries} tries")]
    StillConflicting {
        /// What was being done.
        what: String,
        /// How many times.
        tries: usize,
    },
    /// The kubeconfig cannot be read or used.
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// Its path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The pod's annotation is not configuration data.
    #[error("{what}: the existing {CONFIGURATION_DATA_ANNOTATION} is malformed")]
    MalformedAnnotation {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: ConfigurationDataError,
    },
    /// The new annotation could not be encoded.
    #[error("{what}: {source}")]
    Encode {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The client's runtime could not start.
    #[error("cannot start the Kubernetes client runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The API's own words, and the one fix the plugin can name: its RBAC.
fn api_message(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!(
                "{what}: forbidden: {} (the plugin's kubeconfig needs get and patch on pods)",
                s.message
            )
        }
        kube::Error::Api(s) => format!("{what}: {} ({})", s.message, s.code),
        other => format!("{what}: {other}"),
    }
}

fn api_err(what: &str, source: kube::Error) -> K8sError {
    K8sError::Api {
        what: what.to_owned(),
        source,
    }
}

/// The pod volume the plugin and the pod share.
pub const SHARED_VOLUME: &str = "shared-dir";
/// How many times a conflicting PATCH is redone.
const MAX_CONFLICT_RETRIES: usize = 8;

/// Which pod (from `CNI_ARGS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// `K8S_POD_NAMESPACE`.
    pub namespace: String,
    /// `K8S_POD_NAME`.
    pub name: String,
}

impl PodRef {
    /// From `CNI_ARGS`; `None` when the runtime did not say (not a Kubernetes pod).
    pub fn from_args(args: &BTreeMap<String, String>) -> Option<Self> {
        Some(Self {
            namespace: args
                .get("K8S_POD_NAMESPACE")
                .filter(|s| !s.is_empty())?
                .clone(),
            name: args.get("K8S_POD_NAME").filter(|s| !s.is_empty())?.clone(),
        })
    }
}

/// Where the pod's `shared-dir` volume lives on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedVolume {
    /// A hostPath volume.
    HostPath(PathBuf),
    /// An emptyDir volume (under the kubelet's pod directory).
    EmptyDir(PathBuf),
}

/// What the plugin needs from the pod spec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodFacts {
    /// The `shared-dir` volume, if the pod has one.
    pub volume: Option<SharedVolume>,
    /// Its `mountPath` in the pod's (first) container that mounts it.
    pub mount_path: Option<String>,
}

/// Reads the facts from a pod object.
pub fn pod_facts(pod: &Pod, kubelet_root: &std::path::Path) -> PodFacts {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = &pod.spec else {
        return PodFacts::default();
    };
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == SHARED_VOLUME)
        .and_then(|v| {
            if let Some(hp) = &v.host_path {
                Some(SharedVolume::HostPath(PathBuf::from(&hp.path)))
            } else if v.empty_dir.is_some() {
                Some(SharedVolume::EmptyDir(
                    kubelet_root
                        .join("pods")
                        .join(&uid)
                        .join("volumes/kubernetes.io~empty-dir")
                        .join(SHARED_VOLUME),
                ))
            } else {
                None
            }
        });
    let mount_path = spec
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .find(|m| m.name == SHARED_VOLUME)
        .map(|m| m.mount_path.clone());
    PodFacts { volume, mount_path }
}

/// A client built from a kubeconfig file.
pub async fn client_from_kubeconfig(path: &str) -> Result<Client, K8sError> {
    let invalid = |reason: String| K8sError::Kubeconfig {
        path: path.to_owned(),
        reason,
    };
    let kc = Kubeconfig::read_from(path).map_err(|e| invalid(e.to_string()))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| invalid(e.to_string()))?;
    Client::try_from(config).map_err(|e| invalid(e.to_string()))
}

/// GETs the pod.
pub async fn get_pod(client: &Client, pod: &PodRef) -> Result<Pod, K8sError> {
    Api::<Pod>::namespaced(client.clone(), &pod.namespace)
        .get(&pod.name)
        .await
        .map_err(|e| api_err(&format!("get pod {}/{}", pod.namespace, pod.name), e))
}

/// Whether a missing pod is an error (ADD) or means there is nothing to change (DEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfGone {
    /// 404 is an error.
    Fail,
    /// 404 is success.
    Done,
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Applies `change` to the pod's configuration-data list and PATCHes it (with the
/// mapped-dir), redoing the merge on 409 Conflict.
pub async fn update_configuration_data(
    client: &Client,
    pod: &PodRef,
    mapped_dir: Option<&str>,
    if_gone: IfGone,
    change: impl Fn(&mut Vec<ConfigurationData>) -> bool,
) -> Result<(), K8sError> {
    let api = Api::<Pod>::namespaced(client.clone(), &pod.namespace);
    let what = format!("annotate pod {}/{}", pod.namespace, pod.name);
    for _ in 0..MAX_CONFLICT_RETRIES {
        let current = match api.get(&pod.name).await {
            Ok(p) => p,
            Err(e) if if_gone == IfGone::Done && is_not_found(&e) => return Ok(()),
            Err(e) => return Err(api_err(&what, e)),
        };
        let annotations = current.metadata.annotations.clone().unwrap_or_default();
        let mut list = match annotations.get(CONFIGURATION_DATA_ANNOTATION) {
            Some(text) => {
                parse_configuration_data(text).map_err(|source| K8sError::MalformedAnnotation {
                    what: what.clone(),
                    source,
                })?
            }
            None => Vec::new(),
        };
        if !change(&mut list) {
            return Ok(());
        }
        // The last entry withdrawn removes the key (null in a merge patch), as if the pod
        // had never had an interface, rather than leaving "[]".
        let value = if list.is_empty() {
            Value::Null
        } else {
            serde_json::to_string(&list)
                .map_err(|source| K8sError::Encode {
                    what: what.clone(),
                    source,
                })?
                .into()
        };
        let mut patch = json!({"metadata": {
            "resourceVersion": current.metadata.resource_version,
            "annotations": {CONFIGURATION_DATA_ANNOTATION: value},
        }});
        if let Some(dir) = mapped_dir {
            patch["metadata"]["annotations"][MAPPED_DIR_ANNOTATION] = dir.into();
        }
        match api
            .patch(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tracing::info!("{what}: conflict, merging again");
                continue;
            }
            Err(e) if if_gone == IfGone::Done && is_not_found(&e) => return Ok(()),
            Err(e) => return Err(api_err(&what, e)),
        }
    }
    Err(K8sError::StillConflicting {
        what,
        tries: MAX_CONFLICT_RETRIES,
    })
}

/// Adds or replaces this interface's entry.
pub async fn publish_entry(
    client: &Client,
    pod: &PodRef,
    entry: &ConfigurationData,
    mapped_dir: Option<&str>,
) -> Result<(), K8sError> {
    update_configuration_data(client, pod, mapped_dir, IfGone::Fail, |list| {
        merge_entry(list, entry.clone());
        true
    })
    .await
}

/// Removes this interface's entry; a pod that is gone is fine.
pub async fn withdraw_entry(
    client: &Client,
    pod: &PodRef,
    container_id: &str,
    ifname: &str,
) -> Result<(), K8sError> {
    update_configuration_data(client, pod, None, IfGone::Done, |list| {
        configuration_data::remove_entry(list, container_id, ifname)
    })
    .await
}

/// A client and the runtime it lives on: kube's client drives its connection from a task of
/// the runtime that created it, so every call of one CNI invocation goes through the same one.
pub struct Session {
    rt: tokio::runtime::Runtime,
    client: Client,
    /// The pod.
    pub pod: PodRef,
}

impl Session {
    /// Connects with the kubeconfig at `path`.
    pub fn connect(path: &str, pod: PodRef) -> Result<Self, K8sError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(K8sError::Runtime)?;
        let client = rt.block_on(client_from_kubeconfig(path))?;
        Ok(Self { rt, client, pod })
    }

    /// The pod's shared volume and mount path.
    pub fn pod_facts(&self, kubelet_root: &std::path::Path) -> Result<PodFacts, K8sError> {
        Ok(pod_facts(
            &self.rt.block_on(get_pod(&self.client, &self.pod))?,
            kubelet_root,
        ))
    }

    /// Adds or replaces this interface's annotation entry.
    pub fn publish(
        &self,
        entry: &ConfigurationData,
        mapped_dir: Option<&str>,
    ) -> Result<(), K8sError> {
        self.rt
            .block_on(publish_entry(&self.client, &self.pod, entry, mapped_dir))
    }

    /// Removes this interface's annotation entry.
    pub fn withdraw(&self, container_id: &str, ifname: &str) -> Result<(), K8sError> {
        self.rt.block_on(withdraw_entry(
            &self.client,
            &self.pod,
            container_id,
            ifname,
        ))
    }
}
