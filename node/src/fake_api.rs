//! A fake Kubernetes API server on loopback HTTP/1.1, holding pod objects: create (POST),
//! GET, JSON merge-patch PATCH with `resourceVersion` optimistic concurrency (409 Conflict
//! with a `Status` body, as the API server answers), DELETE. Enough for the `userspace`
//! plugin's and the Multus harness' kube clients to run unchanged, and for the kubelet-like
//! driver to register the pods it starts. Not a real API server: no auth, no watch, no
//! validation beyond what these clients need.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The pods, and every request seen (method, path).
#[derive(Debug, Default)]
pub struct State {
    /// Pod objects.
    pub pods: Vec<Value>,
    /// Requests, in order.
    pub requests: Vec<(String, String)>,
    next_version: u64,
}

/// A running fake API server.
pub struct FakeApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// Listens on `listen` (port 0 for any) and serves in background threads.
    pub fn start(listen: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            next_version: 100,
            ..State::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || {
                    if let Err(e) = serve(conn, &st) {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
        });
        Ok(Self { addr, state })
    }

    /// A kubeconfig pointing at this server (token auth, which it does not check).
    pub fn kubeconfig(&self) -> String {
        kubeconfig(&format!("http://{}", self.addr))
    }

    /// Writes [`Self::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }
}

/// A kubeconfig for `server`.
pub fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\nusers:\n- name: node\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: node\ncurrent-context: fake\n"
    )
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn serve(conn: TcpStream, st: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let (mut len, mut ctype) = (0usize, String::new());
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "content-type" => ctype = v.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        let (code, reply) = match st.lock() {
            Ok(mut s) => handle(&mut s, &method, &path, &ctype, &body),
            Err(_) => status(500, "InternalError", "state lock poisoned"),
        };
        let text = reply.to_string();
        write!(
            out,
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        )?;
    }
}

/// Applies a JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn handle(s: &mut State, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, Value) {
    s.requests.push((method.to_owned(), path.to_owned()));
    tracing::debug!("{method} {path}");
    let path = path.split('?').next().unwrap_or(path);
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (ns, name) = match seg[..] {
        ["api", "v1", "namespaces", ns, "pods"] => (ns, None),
        ["api", "v1", "namespaces", ns, "pods", name] => (ns, Some(name)),
        _ => {
            return status(
                404,
                "NotFound",
                &format!("the server could not find the requested resource {path}"),
            );
        }
    };
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(400, "BadRequest", &format!("body is not JSON: {e}")),
        }
    };
    let found = name.and_then(|name| {
        s.pods
            .iter()
            .position(|p| p["metadata"]["name"] == name && p["metadata"]["namespace"] == ns)
    });
    s.next_version += 1;
    let version = s.next_version.to_string();
    match (method, name, found) {
        ("POST", None, _) => {
            let mut pod = body;
            let Some(pname) = pod["metadata"]["name"].as_str().map(str::to_owned) else {
                return status(422, "Invalid", "metadata.name: Required value");
            };
            if s.pods.iter().any(|p| {
                p["metadata"]["name"] == pname.as_str() && p["metadata"]["namespace"] == ns
            }) {
                return status(
                    409,
                    "AlreadyExists",
                    &format!("pods \"{pname}\" already exists"),
                );
            }
            pod["metadata"]["namespace"] = ns.into();
            pod["metadata"]["resourceVersion"] = version.into();
            if !pod["metadata"]["annotations"].is_object() {
                pod["metadata"]["annotations"] = json!({});
            }
            s.pods.push(pod.clone());
            (201, pod)
        }
        (_, Some(name), None) => status(404, "NotFound", &format!("pods \"{name}\" not found")),
        ("GET", Some(_), Some(i)) => (200, s.pods[i].clone()),
        ("DELETE", Some(_), Some(i)) => (200, s.pods.remove(i)),
        ("PATCH", Some(name), Some(i)) => {
            if ctype != "application/merge-patch+json" {
                return status(
                    415,
                    "UnsupportedMediaType",
                    &format!("{ctype} is not supported here"),
                );
            }
            let pod = &mut s.pods[i];
            if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
                && pod["metadata"]["resourceVersion"].as_str() != Some(rv)
            {
                return status(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on pods \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                );
            }
            merge(pod, &body);
            pod["metadata"]["resourceVersion"] = version.into();
            (200, pod.clone())
        }
        _ => status(405, "MethodNotAllowed", method),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> State {
        let mut s = State {
            next_version: 100,
            ..State::default()
        };
        let (code, _) = handle(
            &mut s,
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            br#"{"metadata":{"name":"fwd","uid":"u1"}}"#,
        );
        assert_eq!(code, 201);
        s
    }

    #[test]
    fn a_created_pod_can_be_read() {
        let mut s = api();
        let (code, pod) = handle(
            &mut s,
            "GET",
            "/api/v1/namespaces/default/pods/fwd",
            "",
            b"",
        );
        assert_eq!((code, pod["metadata"]["uid"].as_str()), (200, Some("u1")));
    }

    #[test]
    fn a_patch_merges_annotations_and_null_removes_one() {
        let mut s = api();
        let p = "/api/v1/namespaces/default/pods/fwd";
        let ct = "application/merge-patch+json";
        handle(
            &mut s,
            "PATCH",
            p,
            ct,
            br#"{"metadata":{"annotations":{"a":"1","b":"2"}}}"#,
        );
        let (_, pod) = handle(
            &mut s,
            "PATCH",
            p,
            ct,
            br#"{"metadata":{"annotations":{"a":null}}}"#,
        );
        assert_eq!(pod["metadata"]["annotations"], json!({"b": "2"}));
    }

    #[test]
    fn a_stale_resource_version_conflicts() {
        let mut s = api();
        let p = "/api/v1/namespaces/default/pods/fwd";
        let (code, body) = handle(
            &mut s,
            "PATCH",
            p,
            "application/merge-patch+json",
            br#"{"metadata":{"resourceVersion":"1","annotations":{"a":"1"}}}"#,
        );
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
    }

    #[test]
    fn a_deleted_pod_is_not_found() {
        let mut s = api();
        let p = "/api/v1/namespaces/default/pods/fwd";
        assert_eq!(handle(&mut s, "DELETE", p, "", b"").0, 200);
        assert_eq!(handle(&mut s, "GET", p, "", b"").0, 404);
    }
}
