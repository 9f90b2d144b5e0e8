//! Find the pod and container, exec the agent, stream its I/O, and map every failure to a
//! message that says what is wrong and what to do.

use anyhow::{Context, anyhow, bail};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use kube::client::UpgradeConnectionError;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::io::AsyncWriteExt;
use userspace_cni_sdk::dpdk::EXIT_NO_INTERFACES;

use crate::cli::Cli;
use crate::terminal::RawMode;

/// Exit code of a remote process that could not be told.
const UNKNOWN_EXIT: u8 = 1;
/// Found but not executable, as a shell reports it.
const NOT_EXECUTABLE: u8 = 126;
/// Not found, as a shell reports it.
const NOT_FOUND: u8 = 127;

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let (client, default_ns) = client(&cli).await?;
    let ns = cli.namespace.clone().unwrap_or(default_ns);
    let api: Api<Pod> = Api::namespaced(client, &ns);
    let pod = api
        .get(&cli.pod)
        .await
        .map_err(|e| api_error(e, &ns, &cli.pod, "get", "pods"))?;
    let container = pick_container(&pod, cli.container.as_deref(), &ns, &cli.pod)?;
    let interactive = cli.interactive();
    let ap = AttachParams::default()
        .container(container.clone())
        .stdin(interactive)
        .stdout(true)
        .stderr(!interactive)
        .tty(interactive);
    let command = cli.remote_command();
    let mut proc = api
        .exec(&cli.pod, command.clone(), &ap)
        .await
        .map_err(|e| api_error(e, &ns, &cli.pod, "create", "pods/exec"))?;

    let _raw = if interactive {
        RawMode::enter().ok()
    } else {
        None
    };
    let status = proc
        .take_status()
        .ok_or_else(|| anyhow!("the exec stream has no status channel"))?;
    let mut tasks = Vec::new();
    if let Some(mut remote_in) = proc.stdin() {
        tasks.push(tokio::spawn(async move {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut remote_in).await;
        }));
    }
    let mut waits = Vec::new();
    if let Some(mut out) = proc.stdout() {
        waits.push(tokio::spawn(async move {
            let _ = tokio::io::copy(&mut out, &mut tokio::io::stdout()).await;
            let _ = tokio::io::stdout().flush().await;
        }));
    }
    if let Some(mut err) = proc.stderr() {
        waits.push(tokio::spawn(async move {
            let _ = tokio::io::copy(&mut err, &mut tokio::io::stderr()).await;
            let _ = tokio::io::stderr().flush().await;
        }));
    }
    let status = status.await;
    for w in waits {
        let _ = w.await;
    }
    for t in tasks {
        t.abort();
    }
    drop(_raw);
    interpret(status, &cli.agent, &container)
}

/// Turns the exec status into an exit code or an explained error. The agent's own exit
/// code says when the pod has no userspace interfaces ([`EXIT_NO_INTERFACES`]).
pub fn interpret(status: Option<Status>, agent: &str, container: &str) -> anyhow::Result<u8> {
    let Some(st) = status else {
        return Ok(UNKNOWN_EXIT);
    };
    if st.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let message = st.message.clone().unwrap_or_default();
    let reason = st.reason.clone().unwrap_or_default();
    let could_not_start = |why: &str| {
        anyhow!(
            "container {container} could not start {agent}: use an image with the userspace agent (images/testpmd), or pass --agent PATH\n  ({why})"
        )
    };
    // Anything but an exit code means the process never ran: containerd reports a
    // missing executable as a failed exec (InternalError), whatever its wording.
    if reason != "NonZeroExitCode" {
        return Err(could_not_start(&format!("{message}; {reason}")));
    }
    let code = st
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<u8>().ok())
        .unwrap_or(UNKNOWN_EXIT);
    match code {
        // The shell's codes, which runtimes that exec through one (CRI-O) report instead.
        NOT_EXECUTABLE | NOT_FOUND => Err(could_not_start(&format!("exit code {code}"))),
        EXIT_NO_INTERFACES => {
            eprintln!(
                "kubectl-testpmd: the pod has no userspace interfaces: attach it to a userspace network (k8s.v1.cni.cncf.io/networks) and mount the podinfo and shared-dir volumes (see the README's contract)"
            );
            Ok(code)
        }
        _ => Ok(code),
    }
}

fn api_error(e: kube::Error, ns: &str, pod: &str, verb: &str, resource: &str) -> anyhow::Error {
    let code = match &e {
        kube::Error::Api(s) => Some(s.code),
        kube::Error::UpgradeConnection(UpgradeConnectionError::ProtocolSwitch(c)) => {
            Some(c.as_u16())
        }
        _ => None,
    };
    match code {
        Some(404) => anyhow!("pod {ns}/{pod} not found"),
        Some(403) => anyhow!(
            "forbidden: you cannot {verb} {resource} in namespace {ns} (RBAC: grant the verb \"{verb}\" on the resource \"{resource}\")"
        ),
        Some(401) => anyhow!("unauthorized: the kubeconfig's credentials were rejected"),
        _ => anyhow::Error::new(e).context(format!("{verb} {resource} {ns}/{pod}")),
    }
}

/// The container to exec in: `-c`, else the only one, else the default-container annotation.
pub fn pick_container(
    pod: &Pod,
    wanted: Option<&str>,
    ns: &str,
    name: &str,
) -> anyhow::Result<String> {
    let names: Vec<String> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    if let Some(w) = wanted {
        if names.iter().any(|n| n == w) {
            return Ok(w.to_owned());
        }
        bail!(
            "pod {ns}/{name} has no container {w}: it has {}",
            names.join(", ")
        );
    }
    if let [one] = names.as_slice() {
        return Ok(one.clone());
    }
    let default = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
        .filter(|d| names.contains(d));
    match default {
        Some(d) => Ok(d.clone()),
        None => bail!(
            "pod {ns}/{name} has {} containers ({}): choose one with -c",
            names.len(),
            names.join(", ")
        ),
    }
}

async fn client(cli: &Cli) -> anyhow::Result<(Client, String)> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &cli.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => Config::infer()
            .await
            .context("no kubeconfig (set --kubeconfig or KUBECONFIG) and not in a cluster")?,
    };
    let ns = config.default_namespace.clone();
    Ok((
        Client::try_from(config).context("building the Kubernetes client")?,
        ns,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: &[&str], default: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "annotations": default.map(|d| serde_json::json!({"kubectl.kubernetes.io/default-container": d})).unwrap_or_default()},
            "spec": {"containers": containers.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>()}
        }))
        .unwrap()
    }

    #[test]
    fn the_only_container_is_chosen() {
        assert_eq!(
            pick_container(&pod(&["dpdk"], None), None, "ns", "p").unwrap(),
            "dpdk"
        );
    }

    #[test]
    fn several_containers_need_c_or_the_default_annotation() {
        let e = pick_container(&pod(&["dpdk", "sidecar"], None), None, "ns", "p")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "pod ns/p has 2 containers (dpdk, sidecar): choose one with -c"
        );
        assert_eq!(
            pick_container(&pod(&["dpdk", "sidecar"], Some("sidecar")), None, "ns", "p").unwrap(),
            "sidecar"
        );
        let e = pick_container(&pod(&["dpdk"], None), Some("nope"), "ns", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no container nope: it has dpdk"), "{e}");
    }
}
