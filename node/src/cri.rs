//! containerd's CRI (`runtime.v1`) over its unix socket.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// The CRI runtime service client.
pub type Runtime = RuntimeServiceClient<Channel>;

/// Failure to reach the runtime.
#[derive(Debug, thiserror::Error)]
#[error("CRI socket {path}")]
pub struct ConnectError {
    path: PathBuf,
    #[source]
    source: Cause,
}

/// Why: the dial's own error when there is one (tonic wraps it in a layer that prints it and
/// also gives it as its source, so it would be printed twice), else tonic's.
#[derive(Debug, thiserror::Error)]
enum Cause {
    #[error(transparent)]
    Dial(std::io::Error),
    #[error(transparent)]
    Transport(tonic::transport::Error),
}

impl From<tonic::transport::Error> for Cause {
    fn from(e: tonic::transport::Error) -> Self {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cur {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                return Self::Dial(match io.raw_os_error() {
                    Some(code) => std::io::Error::from_raw_os_error(code),
                    None => std::io::Error::new(io.kind(), io.to_string()),
                });
            }
            cur = c.source();
        }
        Self::Transport(e)
    }
}

/// Connects to the CRI runtime service at `socket` (the URI is a placeholder; every
/// connection dials the socket).
pub async fn connect(socket: PathBuf) -> Result<Runtime, ConnectError> {
    let path = socket.clone();
    let err = |e: tonic::transport::Error| ConnectError {
        path: socket.clone(),
        source: e.into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_socket_is_named_and_its_cause_printed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("containerd.sock");
        let Err(e) = connect(socket.clone()).await else {
            panic!("connected to a socket that does not exist");
        };
        let text = format!("{:#}", anyhow::Error::new(e));
        assert!(
            text.starts_with(&format!("CRI socket {}", socket.display())),
            "{text}"
        );
        assert_eq!(
            text.matches("No such file or directory").count(),
            1,
            "{text}"
        );
    }
}
