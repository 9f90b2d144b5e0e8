//! `node-harness`: the kubelet-like side of the test node. `api` serves the fake API server
//! (the workspace's `userspace-fake-api`), `create-nad` puts a NetworkAttachmentDefinition in
//! it; `run-pod` and `remove-pod` drive containerd's CRI as kubelet does.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use fake_api::FakeApi;
use k8s_openapi::api::core::v1::Pod;
use node_harness::kubelet::{Kubelet, NodeDirs};

#[derive(Debug, Parser)]
#[command(name = "node-harness", about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the fake API server until killed; writes a kubeconfig for it.
    Api {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Where to write the kubeconfig.
        #[arg(long)]
        kubeconfig: PathBuf,
    },
    /// Register a pod (a Pod manifest, YAML or JSON) and run it: sandbox, then containers.
    /// Prints {uid, sandbox, containers} as JSON.
    RunPod {
        #[command(flatten)]
        node: NodeArgs,
        /// The Pod manifest.
        manifest: PathBuf,
    },
    /// Stop and remove a pod's sandboxes, its directories and its API object.
    RemovePod {
        #[command(flatten)]
        node: NodeArgs,
        /// `namespace/name` or `name` (namespace default).
        pod: String,
    },
    /// Create a NetworkAttachmentDefinition (a manifest, YAML or JSON) in the API server.
    CreateNad {
        /// The kubeconfig of the API server.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// The manifest.
        manifest: PathBuf,
    },
    /// Print the pod object as the API server holds it.
    GetPod {
        /// The kubeconfig of the API server.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// `namespace/name` or `name`.
        pod: String,
    },
}

#[derive(Debug, Args)]
struct NodeArgs {
    /// containerd's socket.
    #[arg(long)]
    cri: PathBuf,
    /// The kubeconfig of the API server.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// kubelet's root directory.
    #[arg(long)]
    kubelet_root: PathBuf,
    /// Where pod logs go (kubelet: /var/log/pods).
    #[arg(long)]
    log_root: PathBuf,
    /// The pods' cgroup parent.
    #[arg(long, default_value = "usrspcni-node")]
    cgroup_parent: String,
    /// CPUs for every container.
    #[arg(long)]
    cpuset: Option<String>,
}

impl NodeArgs {
    async fn kubelet(&self) -> Result<Kubelet> {
        Ok(Kubelet {
            runtime: node_harness::cri::connect(self.cri.clone()).await?,
            kube: node_harness::kube_client(&self.kubeconfig).await?,
            dirs: NodeDirs {
                kubelet_root: self.kubelet_root.clone(),
                log_root: self.log_root.clone(),
                cgroup_parent: self.cgroup_parent.clone(),
                cpuset: self.cpuset.clone(),
            },
        })
    }
}

fn split(pod: &str) -> (&str, &str) {
    pod.split_once('/').unwrap_or(("default", pod))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NODE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Cmd::Api { listen, kubeconfig } = &cli.command {
        let api = FakeApi::start(listen).with_context(|| format!("listening on {listen}"))?;
        api.write_kubeconfig(kubeconfig)
            .with_context(|| format!("writing {}", kubeconfig.display()))?;
        println!("{}", api.addr);
        loop {
            std::thread::park();
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        match cli.command {
            Cmd::Api { .. } => unreachable!("handled above"),
            Cmd::RunPod { node, manifest } => {
                let text = std::fs::read_to_string(&manifest)
                    .with_context(|| format!("reading {}", manifest.display()))?;
                let pod: Pod = serde_saphyr::from_str(&text)
                    .with_context(|| format!("{} is not a Pod manifest", manifest.display()))?;
                let started = node.kubelet().await?.run_pod(pod).await?;
                println!("{}", serde_json::to_string(&started)?);
            }
            Cmd::RemovePod { node, pod } => {
                let (ns, name) = split(&pod);
                node.kubelet().await?.remove_pod(ns, name).await?;
            }
            Cmd::CreateNad {
                kubeconfig,
                manifest,
            } => {
                let text = std::fs::read_to_string(&manifest)
                    .with_context(|| format!("reading {}", manifest.display()))?;
                let obj = node_harness::multus::Nad::manifest_object(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
                let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default");
                let nad: kube::api::DynamicObject = serde_json::from_value(obj.clone())
                    .with_context(|| format!("{} is not an object", manifest.display()))?;
                let client = node_harness::kube_client(&kubeconfig).await?;
                kube::Api::<kube::api::DynamicObject>::namespaced_with(
                    client,
                    ns,
                    &node_harness::multus::nad_resource(),
                )
                .create(&kube::api::PostParams::default(), &nad)
                .await
                .with_context(|| format!("create {}", manifest.display()))?;
            }
            Cmd::GetPod { kubeconfig, pod } => {
                let (ns, name) = split(&pod);
                let client = node_harness::kube_client(&kubeconfig).await?;
                let p = kube::Api::<Pod>::namespaced(client, ns)
                    .get(name)
                    .await
                    .with_context(|| format!("get pod {pod}"))?;
                println!("{}", serde_json::to_string(&p)?);
            }
        }
        Ok(())
    })
}
