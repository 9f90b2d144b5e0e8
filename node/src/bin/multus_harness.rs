//! `multus-harness`: the one CNI plugin containerd runs on the test node; it plays Multus (see
//! `node_harness::multus`): the cluster default network (`clusterNetwork`, a NetConf file) under
//! the runtime's `CNI_IFNAME`, whose result it returns (containerd needs eth0's address), then
//! the pod's secondary networks. Without `clusterNetwork` the result has no interface, which
//! containerd 1.6 refuses ("failed to find network info for sandbox").
//!
//! Its config (the conflist's plugin):
//! `{"type": "multus-harness", "name": …, "cniVersion": …, "nadDir": <NAD manifests>,
//!   "binDir": <delegate plugins>, "kubeconfig": …, "cacheDir": …, "deviceInfoDir": …,
//!   "logFile": …, "clusterNetwork": <NetConf file>, "capabilities": {"io.kubernetes.cri.pod-annotations": true}}`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use node_harness::multus::{
    self, CRI_POD_ANNOTATIONS, Delegate, Invocation, NETWORKS_ANNOTATION, PodArgs,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use userspace_cni_sdk::wire::network_status::{NETWORK_STATUS_ANNOTATION, NetworkStatus};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conf {
    cni_version: String,
    nad_dir: PathBuf,
    bin_dir: String,
    kubeconfig: Option<PathBuf>,
    cache_dir: PathBuf,
    device_info_dir: PathBuf,
    log_file: Option<PathBuf>,
    cluster_network: Option<PathBuf>,
    #[serde(default)]
    runtime_config: Value,
}

/// What ADD remembers for DEL, as Multus caches its delegates per sandbox.
#[derive(Debug, Serialize, Deserialize)]
struct Cache {
    pod: PodArgs,
    delegates: Vec<Delegate>,
}

fn env(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

fn cache_path(conf: &Conf, id: &str) -> PathBuf {
    conf.cache_dir.join(format!("{id}.json"))
}

fn pod_annotation(conf: &Conf, key: &str) -> Option<String> {
    conf.runtime_config
        .get(CRI_POD_ANNOTATIONS)
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn plan(conf: &Conf, pod: &PodArgs) -> Result<Vec<Delegate>> {
    let mut out = Vec::new();
    if let Some(path) = &conf.cluster_network {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let net: Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a NetConf", path.display()))?;
        let ifname = std::env::var("CNI_IFNAME").unwrap_or_else(|_| "eth0".into());
        out.push(multus::cluster_delegate(&net, &ifname));
    }
    let text = pod_annotation(conf, NETWORKS_ANNOTATION).unwrap_or_default();
    let selections = multus::parse_selections(&text)?;
    if !selections.is_empty() {
        let nads = multus::load_nads(&conf.nad_dir)?;
        out.extend(multus::plan(
            &selections,
            &nads,
            pod,
            &conf.device_info_dir,
        )?);
    }
    Ok(out)
}

fn pretty(v: &impl Serialize) -> Result<String> {
    // Multus indents the annotation's JSON by four spaces.
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    v.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))?;
    Ok(String::from_utf8(out)?)
}

async fn publish(conf: &Conf, pod: &PodArgs, status: &[NetworkStatus]) -> Result<()> {
    let Some(kc) = &conf.kubeconfig else {
        return Ok(());
    };
    let client = node_harness::kube_client(kc).await?;
    let patch = json!({"metadata": {"annotations": {NETWORK_STATUS_ANNOTATION: pretty(&status)?}}});
    Api::<Pod>::namespaced(client, &pod.namespace)
        .patch(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| {
            format!(
                "annotate pod {}/{} with {NETWORK_STATUS_ANNOTATION}",
                pod.namespace, pod.name
            )
        })?;
    Ok(())
}

fn del_all(inv: &Invocation<'_>, delegates: &[Delegate]) -> Result<()> {
    let mut first_err = None;
    for d in delegates.iter().rev() {
        if let Err(e) = multus::exec(inv, "DEL", d) {
            tracing::warn!("{e}");
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), |e| Err(e.into()))
}

fn add(conf: &Conf, rt: &tokio::runtime::Runtime) -> Result<Value> {
    let pod = PodArgs::from_cni_args(&env("CNI_ARGS")?, &env("CNI_CONTAINERID")?)
        .map_err(|e| anyhow!(e))?;
    let netns = env("CNI_NETNS")?;
    let delegates = plan(conf, &pod)?;
    let inv = Invocation {
        cni_path: &conf.bin_dir,
        netns: &netns,
        pod: &pod,
    };
    let mut status = Vec::new();
    let mut default_result = None;
    for (i, d) in delegates.iter().enumerate() {
        tracing::info!(network = %d.network, ifname = %d.ifname, "delegate ADD");
        match multus::exec(&inv, "ADD", d) {
            Ok(result) => {
                let info = d
                    .device_info_file
                    .as_ref()
                    .and_then(|f| std::fs::read(f).ok())
                    .and_then(|b| serde_json::from_slice(&b).ok());
                status.push(multus::network_status(d, &result, info));
                if d.default {
                    default_result = Some(result);
                }
            }
            Err(e) => {
                // Multus undoes what it did, the failed delegate included.
                let _ = del_all(&inv, &delegates[..=i]);
                return Err(e.into());
            }
        }
    }
    std::fs::create_dir_all(&conf.cache_dir)
        .with_context(|| format!("creating {}", conf.cache_dir.display()))?;
    let cache = cache_path(conf, &pod.sandbox_id);
    std::fs::write(
        &cache,
        serde_json::to_vec(&Cache {
            pod: pod.clone(),
            delegates: delegates.clone(),
        })?,
    )
    .with_context(|| format!("writing {}", cache.display()))?;
    if let Err(e) = rt.block_on(publish(conf, &pod, &status)) {
        let _ = del_all(&inv, &delegates);
        let _ = std::fs::remove_file(&cache);
        return Err(e);
    }
    Ok(default_result.unwrap_or_else(
        || json!({"cniVersion": conf.cni_version, "interfaces": [], "ips": [], "dns": {}}),
    ))
}

fn del(conf: &Conf) -> Result<()> {
    let id = env("CNI_CONTAINERID")?;
    let netns = std::env::var("CNI_NETNS").unwrap_or_default();
    let cache = cache_path(conf, &id);
    let (pod, delegates) = match std::fs::read(&cache) {
        Ok(b) => {
            let c: Cache = serde_json::from_slice(&b)
                .with_context(|| format!("{} is unreadable", cache.display()))?;
            (c.pod, c.delegates)
        }
        // No cache (an ADD that failed before writing it, or a second DEL): the annotation
        // says which networks; their delegates must accept a DEL of nothing.
        Err(_) => {
            let pod = PodArgs::from_cni_args(&env("CNI_ARGS")?, &id).map_err(|e| anyhow!(e))?;
            let delegates = plan(conf, &pod).unwrap_or_default();
            (pod, delegates)
        }
    };
    let inv = Invocation {
        cni_path: &conf.bin_dir,
        netns: &netns,
        pod: &pod,
    };
    del_all(&inv, &delegates)?;
    match std::fs::remove_file(&cache) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", cache.display()))
        }
        _ => Ok(()),
    }
}

fn init_log(path: Option<&Path>) {
    let filter = tracing_subscriber::EnvFilter::new("info");
    let file = path.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    match file {
        Some(f) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(f))
            .init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
}

fn run(verb: &str, stdin: &[u8]) -> Result<Option<Value>> {
    if verb == "VERSION" {
        return Ok(Some(
            json!({"cniVersion": "1.0.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0"]}),
        ));
    }
    let conf: Conf = serde_json::from_slice(stdin).context("the config on stdin")?;
    init_log(conf.log_file.as_deref());
    tracing::info!(verb, id = %std::env::var("CNI_CONTAINERID").unwrap_or_default(), "called");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match verb {
        "ADD" => add(&conf, &rt).map(Some),
        "DEL" => del(&conf).map(|()| None),
        // CHECK, STATUS, GC: nothing to check here beyond what the delegates own.
        _ => Ok(None),
    }
}

fn main() {
    let verb = std::env::var("CNI_COMMAND").unwrap_or_default();
    let mut stdin = Vec::new();
    let read = if verb == "VERSION" {
        Ok(0)
    } else {
        std::io::stdin().read_to_end(&mut stdin)
    };
    let outcome = read
        .context("reading stdin")
        .and_then(|_| run(&verb, &stdin));
    match outcome {
        Ok(Some(v)) => println!("{v}"),
        Ok(None) => {}
        Err(e) => {
            tracing::error!("{verb}: {e:#}");
            println!(
                "{}",
                json!({"cniVersion": "1.0.0", "code": 999, "msg": format!("multus-harness {verb}"), "details": format!("{e:#}")})
            );
            std::process::exit(1);
        }
    }
}
