//! containerd's CRI (`runtime.v1`) over its unix socket.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// The CRI runtime service client.
pub type Runtime = RuntimeServiceClient<Channel>;

/// Failure to reach the runtime.
#[derive(Debug, thiserror::Error)]
#[error("CRI socket {path}: {source}")]
pub struct ConnectError {
    path: PathBuf,
    #[source]
    source: tonic::transport::Error,
}

/// Connects to the CRI runtime service at `socket` (the URI is a placeholder; every
/// connection dials the socket).
pub async fn connect(socket: PathBuf) -> Result<Runtime, ConnectError> {
    let path = socket.clone();
    let err = |source| ConnectError {
        path: socket.clone(),
        source,
    };
    let channel = Endpoint::try_from("http://localhost")
        .map_err(err)?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        }))
        .await
        .map_err(err)?;
    Ok(RuntimeServiceClient::new(channel))
}
