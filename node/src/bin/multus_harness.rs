//! `multus-harness`: the one CNI plugin containerd runs on the test node; it plays Multus'
//! thin plugin v4.2 as observed (see `node_harness::multus`):
//!
//! ADD: GET the pod (absent: Multus' empty result; another UID: an error); the cluster
//! network (`clusterNetwork`, a NetConf file) is delegate 0 under the runtime's `CNI_IFNAME`;
//! the pod's `k8s.v1.cni.cncf.io/networks` selects NADs, each GET from the API server (a
//! missing one: a `NoNetworkFound` event and an error); a NAD with a resourceName gets its
//! device from kubelet's pod-resources, which this harness does not have: `podResources`
//! stands in for it. The delegates are cached, then ADDed in order, each followed by an
//! `AddedInterface` event and its cached result; a failure DELs delegates in reverse from the
//! failed one. Then network-status: GET the pod, set the annotation, `PUT …/status` with the
//! `resourceVersion` read, again on 409; if that fails the error is returned without DELs.
//! DEL: the cached delegates (else the pod's, if it can be read) in reverse, each with its
//! cached result as `prevResult` (cniVersion ≥ 0.4.0).
//!
//! Its config (the conflist's plugin): `{"type": "multus-harness", "name": …, "cniVersion": …,
//! "kubeconfig": …, "binDir": <delegate plugins, before the runtime's CNI_PATH>,
//! "cniDir": <cache; default /var/lib/cni/multus>, "clusterNetwork": <NetConf file>,
//! "deviceInfoDir": <default /var/run/k8s.cni.cncf.io/devinfo/cni>,
//! "podResources": {<resource name>: [<device ID>…]}, "logFile": …}`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Event, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DynamicObject, PostParams};
use node_harness::multus::{
    self, DEVICE_INFO_DIR, Delegate, NETWORKS_ANNOTATION, Nad, NetworkSelection, PodArgs,
};
use serde::Deserialize;
use serde_json::{Value, json};
use userspace_cni_sdk::wire::network_status::NETWORK_STATUS_ANNOTATION;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conf {
    kubeconfig: Option<PathBuf>,
    #[serde(default = "default_bin_dir")]
    bin_dir: String,
    #[serde(default = "default_cni_dir")]
    cni_dir: PathBuf,
    #[serde(default = "default_device_info_dir")]
    device_info_dir: PathBuf,
    /// Stands in for kubelet's pod-resources answer: the devices of each resource.
    pod_resources: Option<std::collections::BTreeMap<String, Vec<String>>>,
    log_file: Option<PathBuf>,
    cluster_network: Option<PathBuf>,
}

fn default_bin_dir() -> String {
    "/opt/cni/bin".into()
}
fn default_cni_dir() -> PathBuf {
    "/var/lib/cni/multus".into()
}
fn default_device_info_dir() -> PathBuf {
    DEVICE_INFO_DIR.into()
}

/// The runtime's call.
struct Args {
    container_id: String,
    netns: String,
    ifname: String,
    cni_args: String,
    cni_path: String,
    pod: PodArgs,
}

impl Args {
    fn from_env() -> Result<Self> {
        let var = |n: &str| std::env::var(n).unwrap_or_default();
        let cni_args = var("CNI_ARGS");
        Ok(Self {
            container_id: std::env::var("CNI_CONTAINERID").context("CNI_CONTAINERID is not set")?,
            netns: var("CNI_NETNS"),
            ifname: var("CNI_IFNAME"),
            cni_path: var("CNI_PATH"),
            pod: PodArgs::from_cni_args(&cni_args).map_err(|e| anyhow!(e))?,
            cni_args,
        })
    }

    fn what(&self) -> String {
        format!(
            "[{}/{}/{}]",
            self.pod.namespace, self.pod.name, self.pod.uid
        )
    }
}

/// The API server, when configured, and the pod as it was read.
struct Kube {
    client: kube::Client,
}

/// The API server's message for a failed call (what client-go's error prints).
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        e => e.to_string(),
    }
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl Kube {
    async fn pod(&self, pod: &PodArgs) -> Result<Option<Pod>, kube::Error> {
        match Api::<Pod>::namespaced(self.client.clone(), &pod.namespace)
            .get(&pod.name)
            .await
        {
            Ok(p) => Ok(Some(p)),
            Err(e) if is_code(&e, 404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn nad(&self, namespace: &str, name: &str) -> Result<Nad, String> {
        let obj = Api::<DynamicObject>::namespaced_with(
            self.client.clone(),
            namespace,
            &multus::nad_resource(),
        )
        .get(name)
        .await
        .map_err(|e| api_message(&e))?;
        let v = serde_json::to_value(&obj).map_err(|e| e.to_string())?;
        Nad::from_object(&v)
    }

    /// Posts an event about the pod, as client-go's recorder for component `multus` does;
    /// events are best effort.
    async fn event(&self, pod: &Pod, kind: &str, reason: &str, message: &str) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let now = std::time::SystemTime::now();
        let nanos = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let ts = k8s_openapi::jiff::Timestamp::try_from(now).ok().map(Time);
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{nanos:x}")),
                namespace: Some(ns.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(ns.clone()),
                name: Some(name),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                ..ObjectReference::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some(kind.into()),
            count: Some(1),
            first_timestamp: ts.clone(),
            last_timestamp: ts,
            source: Some(k8s_openapi::api::core::v1::EventSource {
                component: Some("multus".into()),
                host: None,
            }),
            reporting_component: Some("multus".into()),
            reporting_instance: Some(String::new()),
            ..Event::default()
        };
        if let Err(e) = Api::<Event>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &event)
            .await
        {
            tracing::warn!("event {reason}: {e}");
        }
    }

    /// net-attach-def-client's `setPodNetworkStatus`: GET, set the annotation, PUT the pod's
    /// status with the version read; again on 409 (client-go's `retry.DefaultRetry`: five tries).
    async fn set_network_status(&self, pod: &PodArgs, text: &str) -> Result<()> {
        let api = Api::<Pod>::namespaced(self.client.clone(), &pod.namespace);
        let mut last = None;
        for attempt in 0..5 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let mut current = api.get(&pod.name).await.map_err(|e| {
                anyhow!(
                    "status update failed for pod {}/{}: {}",
                    pod.namespace,
                    pod.name,
                    api_message(&e)
                )
            })?;
            current
                .metadata
                .annotations
                .get_or_insert_default()
                .insert(NETWORK_STATUS_ANNOTATION.into(), text.into());
            match api
                .replace_status(&pod.name, &PostParams::default(), &current)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_code(&e, 409) => {
                    tracing::info!("network-status: conflict, reading the pod again");
                    last = Some(e);
                }
                Err(e) => {
                    return Err(anyhow!(
                        "status update failed for pod {}/{}: {}",
                        pod.namespace,
                        pod.name,
                        api_message(&e)
                    ));
                }
            }
        }
        Err(anyhow!(
            "status update failed for pod {}/{}: {}",
            pod.namespace,
            pod.name,
            last.map(|e| api_message(&e)).unwrap_or_default()
        ))
    }
}

/// What ADD caches for DEL, as Multus saves its delegates per container.
fn cache_path(conf: &Conf, container_id: &str) -> PathBuf {
    conf.cni_dir.join(container_id)
}

/// libcni's cached result of one delegate.
fn result_path(conf: &Conf, d: &Delegate, container_id: &str, ifname: &str) -> PathBuf {
    conf.cni_dir
        .join("results")
        .join(format!("{}-{container_id}-{ifname}", d.conf_name()))
}

fn cluster_delegate(conf: &Conf) -> Result<Option<Delegate>> {
    let Some(path) = &conf.cluster_network else {
        return Ok(None);
    };
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let net: Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a NetConf", path.display()))?;
    Ok(Some(Delegate::cluster(net)))
}

/// The pod's delegates: the cluster network, then each selected NAD.
async fn delegates(conf: &Conf, kube: Option<&Kube>, pod: Option<&Pod>) -> Result<Vec<Delegate>> {
    let mut out: Vec<Delegate> = cluster_delegate(conf)?.into_iter().collect();
    let (Some(kube), Some(pod)) = (kube, pod) else {
        return Ok(out);
    };
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let text = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NETWORKS_ANNOTATION))
        .cloned()
        .unwrap_or_default();
    let selections = multus::parse_selections(&text)?;
    // kubelet's allocation, consumed in order per resource (Multus' resourceMap index).
    let mut used: std::collections::BTreeMap<String, usize> = Default::default();
    for sel in selections {
        let sel = NetworkSelection {
            namespace: Some(sel.namespace.clone().unwrap_or_else(|| ns.clone())),
            ..sel
        };
        let nad_ns = sel.namespace.clone().unwrap_or_default();
        let nad = match kube.nad(&nad_ns, &sel.name).await {
            Ok(n) => n,
            Err(e) => {
                let msg = format!(
                    "cannot find a network-attachment-definition ({}) in namespace ({nad_ns}): {e}",
                    sel.name
                );
                kube.event(pod, "Warning", "NoNetworkFound", &msg).await;
                bail!("error loading k8s delegates: {msg}");
            }
        };
        let device_id = match &nad.resource_name {
            None => None,
            Some(res) => {
                let Some(resources) = &conf.pod_resources else {
                    bail!(
                        "error loading k8s delegates: NAD {}/{} has resource {res}: kubelet's pod-resources are not modelled, give podResources",
                        nad.namespace,
                        nad.name
                    );
                };
                let i = used.entry(res.clone()).or_default();
                let id = resources.get(res).and_then(|ids| ids.get(*i)).cloned();
                *i += usize::from(id.is_some());
                id
            }
        };
        out.push(Delegate::secondary(&nad, &sel, device_id));
    }
    Ok(out)
}

/// Runs one delegate as libcni does; returns its parsed stdout (`Null` when empty).
fn exec(
    conf: &Conf,
    args: &Args,
    verb: &str,
    d: &Delegate,
    ifname: &str,
    prev_result: Option<&Value>,
) -> Result<Value> {
    let ty = d
        .config
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the config of {} has no type", d.name))?;
    if ty.is_empty() || ty.contains('/') || ty.starts_with('.') {
        bail!("type {ty:?} is not a plugin name");
    }
    let path = multus::delegate_cni_path(&conf.bin_dir, &args.cni_path);
    let bin = which::which_in(ty, Some(&path), "/").map_err(|_| {
        anyhow!(
            "failed to find plugin {ty:?} in path [{}]",
            path.replace(':', " ")
        )
    })?;
    let device_info = d.device_info_file(&conf.device_info_dir, &args.container_id, ifname);
    let stdin = multus::delegate_stdin(
        &d.config,
        &d.capability_args(device_info.as_deref()),
        prev_result,
    );
    // MAC= and IP= only on ADD (Multus' DelegateAdd appends them).
    let selection = (verb == "ADD").then_some(&d.selection);
    let cni_args = multus::delegate_cni_args(&args.pod, &args.cni_args, selection);
    let env = multus::delegate_env(
        std::env::vars(),
        &[
            ("CNI_COMMAND", verb),
            ("CNI_CONTAINERID", &args.container_id),
            ("CNI_NETNS", &args.netns),
            ("CNI_ARGS", &cni_args),
            ("CNI_IFNAME", ifname),
            ("CNI_PATH", &path),
        ],
    );
    let mut child = Command::new(&bin)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", bin.display()))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())
            .context("writing the delegate's stdin")?;
    }
    let out = child
        .wait_with_output()
        .context("waiting for the delegate")?;
    let value: Value = if out.stdout.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "unreadable output: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })?
    };
    if !out.status.success() {
        let msg = value
            .get("msg")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_owned());
        let details = value.get("details").and_then(Value::as_str).unwrap_or("");
        bail!(
            "{}",
            if details.is_empty() {
                msg
            } else {
                format!("{msg}; {details}")
            }
        );
    }
    Ok(value)
}

/// Multus' `delPlugins`: DEL from `last` down to 0, every one tried, the errors joined.
fn del_from(conf: &Conf, args: &Args, delegates: &[Delegate], last: usize) -> Result<()> {
    let mut errors = Vec::new();
    for i in (0..=last.min(delegates.len().saturating_sub(1))).rev() {
        let Some(d) = delegates.get(i) else { continue };
        let ifname = d.ifname(&args.ifname, i);
        let cached = result_path(conf, d, &args.container_id, &ifname);
        let prev = multus::del_carries_prev_result(d.cni_version())
            .then(|| std::fs::read(&cached).ok())
            .flatten()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        tracing::info!(network = %d.name, ifname, "delegate DEL");
        if let Err(e) = exec(conf, args, "DEL", d, &ifname, prev.as_ref()) {
            errors.push(format!(
                "DelegateDel: error invoking DelegateDel - {:?}: {e:#}",
                d.config.get("type").and_then(Value::as_str).unwrap_or("")
            ));
        } else {
            let _ = std::fs::remove_file(&cached);
        }
        if let Some(f) = d.device_info_file(&conf.device_info_dir, &args.container_id, &ifname) {
            let _ = std::fs::remove_file(f);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(errors.join(" / ")))
    }
}

async fn connect(conf: &Conf) -> Result<Option<Kube>> {
    match &conf.kubeconfig {
        Some(kc) => Ok(Some(Kube {
            client: node_harness::kube_client(kc).await?,
        })),
        None => Ok(None),
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

async fn add(conf: &Conf, args: &Args) -> Result<Value> {
    let kube = connect(conf).await?;
    let what = args.what();
    let pod = match &kube {
        Some(k) => match k.pod(&args.pod).await {
            Ok(Some(p)) => Some(p),
            // Multus: a pod already deleted gets an empty result.
            Ok(None) => {
                return Ok(json!({"cniVersion": "1.0.0",
                    "interfaces": [{"name": args.ifname, "sandbox": args.netns}],
                    "ips": [{"address": "0.0.0.0/0", "gateway": "0.0.0.0"}]}));
            }
            Err(e) => bail!("Multus: {what}: error waiting for pod: {}", api_message(&e)),
        },
        None => None,
    };
    if let Some(p) = &pod {
        let uid = p.metadata.uid.clone().unwrap_or_default();
        if !args.pod.uid.is_empty() && uid != args.pod.uid {
            bail!(
                "Multus: {what}: expected pod UID {:?} but got {uid:?} from Kube API",
                args.pod.uid
            );
        }
    }
    let delegates = delegates(conf, kube.as_ref(), pod.as_ref())
        .await
        .map_err(|e| anyhow!("Multus: {what}: {e:#}"))?;
    write_file(
        &cache_path(conf, &args.container_id),
        &serde_json::to_vec(&delegates)?,
    )
    .map_err(|e| anyhow!("Multus: {what}: error saving the delegates: {e:#}"))?;
    let mut result: Option<Value> = None;
    let mut statuses = Vec::new();
    for (i, d) in delegates.iter().enumerate() {
        let ifname = d.ifname(&args.ifname, i);
        tracing::info!(network = %d.name, ifname, "delegate ADD");
        let r = match exec(conf, args, "ADD", d, &ifname, None) {
            Ok(r) => r,
            Err(e) => {
                // Undo what was done, the failed delegate included; DEL errors are ignored.
                let _ = del_from(conf, args, &delegates, i);
                bail!(
                    "[{}/{}/{}:{}]: error adding container to network {:?}: {e:#}",
                    args.pod.namespace,
                    args.pod.name,
                    args.pod.uid,
                    d.conf_name(),
                    d.conf_name()
                );
            }
        };
        write_file(
            &result_path(conf, d, &args.container_id, &ifname),
            r.to_string().as_bytes(),
        )?;
        if let (Some(k), Some(p)) = (&kube, &pod)
            && (r.get("interfaces").is_some_and(|v| !v.is_null())
                || r.get("ips").is_some_and(|v| !v.is_null()))
        {
            let msg = multus::added_interface_message(&ifname, &r, &d.name);
            k.event(p, "Normal", "AddedInterface", &msg).await;
        }
        let info = d
            .device_info_file(&conf.device_info_dir, &args.container_id, &ifname)
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|v| multus::device_info_for_status(&v));
        statuses.extend(multus::network_statuses(
            &r,
            &d.name,
            d.master,
            info.as_ref(),
        ));
        if d.master || result.is_none() {
            result = Some(r);
        }
    }
    if let Some(k) = &kube {
        let text = multus::network_status_text(&statuses);
        if let Err(e) = k.set_network_status(&args.pod, &text).await {
            // Multus tolerates a pod deleted meanwhile; otherwise the error, without DELs
            // (the runtime's DEL cleans up).
            let msg = format!("{e:#}");
            if !(msg.contains("pods \"") && msg.contains("\" not found")) {
                bail!("Multus: {what}: error setting the networks status: {msg}");
            }
        }
    }
    Ok(result.unwrap_or_else(|| json!({"cniVersion": "1.0.0"})))
}

async fn del(conf: &Conf, args: &Args) -> Result<()> {
    let kube = connect(conf).await?;
    let pod = match &kube {
        Some(k) => k.pod(&args.pod).await.unwrap_or_else(|e| {
            tracing::warn!("GetPod failed: {e}, but continue to delete");
            None
        }),
        None => None,
    };
    let cache = cache_path(conf, &args.container_id);
    let delegates: Vec<Delegate> = match std::fs::read(&cache) {
        Ok(b) => serde_json::from_slice(&b)
            .with_context(|| format!("{} is unreadable", cache.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && pod.is_some() => {
            delegates(conf, kube.as_ref(), pod.as_ref())
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!("failed to get delegates: {e:#}, but continue to delete");
                    cluster_delegate(conf).ok().flatten().into_iter().collect()
                })
        }
        Err(e) => {
            // Multus: nothing cached and no pod: it cannot delete properly, and must not
            // block the sandbox's removal.
            tracing::warn!("failed to get the cached delegates file: {e}, cannot properly delete");
            return Ok(());
        }
    };
    let outcome = match delegates.len() {
        0 => Ok(()),
        n => del_from(conf, args, &delegates, n - 1),
    };
    let _ = std::fs::remove_file(&cache);
    outcome
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
        "ADD" => rt.block_on(add(&conf, &Args::from_env()?)).map(Some),
        "DEL" => rt.block_on(del(&conf, &Args::from_env()?)).map(|()| None),
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
