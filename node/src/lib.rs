//! A Kubernetes node for tests, around the real containerd: a kubelet-like driver of its CRI
//! ([`kubelet`], [`cri`]), a CNI meta-plugin that delegates to secondary networks the way
//! Multus does ([`multus`]); the fake API server is the workspace's `userspace-fake-api`
//! (`node-harness api` serves it). Used by `scripts/demo.sh containerd`.

pub mod cri;
pub mod kubelet;
pub mod multus;

/// A kube client from a kubeconfig file.
pub async fn kube_client(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    use anyhow::Context;
    let kc = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .with_context(|| format!("kubeconfig {}", path.display()))?;
    kube::Client::try_from(config).with_context(|| format!("kubeconfig {}", path.display()))
}
