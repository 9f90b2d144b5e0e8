//! A fake Kubernetes API server on loopback for the endpoints kubectl-testpmd uses: pod GET
//! (plain HTTP/1.1) and pod exec (a WebSocket upgrade answering `v4.channel.k8s.io` or
//! `v5.channel.k8s.io`, with stdout on channel 1, stderr on 2 and the Status on 3), as the API
//! server does. Each exec's query (command, container, tty…) is recorded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// What the fake does on exec.
#[derive(Clone, Debug)]
pub enum ExecReply {
    /// stdout text and exit code.
    Run {
        stdout: String,
        stderr: String,
        exit: u8,
    },
    /// The container has no such executable.
    NoExecutable,
    /// Refuse the upgrade with this HTTP status.
    Refuse(u16),
}

#[derive(Default)]
pub struct State {
    pub pods: BTreeMap<String, Value>,
    pub execs: Vec<String>,
    pub get_status: Option<u16>,
}

pub struct FakeApi {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// Starts on a thread of its own; `protocol` is the subprotocol it agrees to.
    pub fn start(pods: Vec<Value>, reply: ExecReply, protocol: &'static str) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            pods: pods
                .into_iter()
                .map(|p| (p["metadata"]["name"].as_str().unwrap().to_owned(), p))
                .collect(),
            ..State::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let (conn, _) = listener.accept().await.unwrap();
                    let st = st.clone();
                    let reply = reply.clone();
                    tokio::spawn(async move { serve(conn, st, reply, protocol).await });
                }
            });
        });
        Self { port, state }
    }

    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let p = dir.join("kubeconfig");
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: dev\n  user:\n    token: t\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: dev\n    namespace: cnf\ncurrent-context: fake\n",
                self.port
            ),
        )
        .unwrap();
        p
    }
}

async fn serve(conn: TcpStream, st: Arc<Mutex<State>>, reply: ExecReply, protocol: &'static str) {
    // One connection carries plain requests and, possibly after them (hyper reuses pooled
    // connections), the exec upgrade.
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await.unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await.unwrap();
        if headers
            .get("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        {
            st.lock().unwrap().execs.push(target.clone());
            let conn = reader.into_inner();
            exec(conn, &headers, reply, protocol).await;
            return;
        }
        let path = target.split('?').next().unwrap_or("").to_owned();
        let (code, v) = {
            let s = st.lock().unwrap();
            let name = path.rsplit('/').next().unwrap_or("");
            match (s.get_status, s.pods.get(name)) {
                (Some(403), _) => (
                    403,
                    status_json(
                        403,
                        "Forbidden",
                        &format!(
                            "pods \"{name}\" is forbidden: User \"dev\" cannot get resource \"pods\""
                        ),
                    ),
                ),
                (_, Some(p)) => (200, p.clone()),
                (_, None) => (
                    404,
                    status_json(404, "NotFound", &format!("pods \"{name}\" not found")),
                ),
            }
        };
        if respond(reader.get_mut(), code, &v).await.is_err() {
            return;
        }
    }
}

fn status_json(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
}

async fn respond(w: &mut TcpStream, code: u16, v: &Value) -> std::io::Result<()> {
    let text = v.to_string();
    let resp = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    w.write_all(resp.as_bytes()).await
}

async fn exec(
    mut conn: TcpStream,
    headers: &BTreeMap<String, String>,
    reply: ExecReply,
    protocol: &'static str,
) {
    if let ExecReply::Refuse(code) = reply {
        let _ = respond(
            &mut conn,
            code,
            &status_json(code, "Forbidden", "cannot create pods/exec"),
        )
        .await;
        return;
    }
    let offered = headers
        .get("sec-websocket-protocol")
        .cloned()
        .unwrap_or_default();
    assert!(offered.contains(protocol), "client offered {offered}");
    let key = headers
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or_default();
    let accept = derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(conn, Role::Server, None).await;
    let frame = |ch: u8, data: &[u8]| {
        let mut v = vec![ch];
        v.extend_from_slice(data);
        Message::binary(v)
    };
    let status = match reply {
        ExecReply::Run {
            stdout,
            stderr,
            exit,
        } => {
            if !stdout.is_empty() {
                ws.send(frame(1, stdout.as_bytes())).await.unwrap();
            }
            if !stderr.is_empty() {
                ws.send(frame(2, stderr.as_bytes())).await.unwrap();
            }
            if exit == 0 {
                json!({"metadata": {}, "status": "Success"})
            } else {
                json!({"metadata": {}, "status": "Failure", "message": format!("command terminated with non-zero exit code: error executing command [...], exit code {exit}"),
                       "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": exit.to_string()}]}})
            }
        }
        ExecReply::NoExecutable => json!({"metadata": {}, "status": "Failure",
            "message": "OCI runtime exec failed: exec failed: unable to start container process: exec: \"userspace-agent\": executable file not found in $PATH: unknown",
            "reason": "InternalError", "details": {"causes": [{"message": "OCI runtime exec failed"}]}}),
        ExecReply::Refuse(_) => return,
    };
    ws.send(frame(3, status.to_string().as_bytes()))
        .await
        .unwrap();
    let _ = ws.close(None).await;
}

/// A pod with the given containers.
pub fn pod(name: &str, containers: &[&str]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "cnf", "uid": "u1", "resourceVersion": "7"},
           "spec": {"containers": containers.iter().map(|c| json!({"name": c, "image": "testpmd"})).collect::<Vec<_>>()}})
}
