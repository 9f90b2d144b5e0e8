//! A fake Kubernetes API server speaking real HTTP/1.1 on loopback: the pod GET and the JSON
//! merge-patch PATCH of `/api/v1/namespaces/{ns}/pods/{name}`, with `resourceVersion`
//! optimistic concurrency (409 Conflict with a `Status` body, as the API server answers) and
//! optional 403 Forbidden, so the plugin's kube client runs unchanged against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Default)]
pub struct State {
    pub pods: Vec<Value>,
    pub requests: Vec<(String, String, String)>,
    pub conflicts: usize,
    pub forbid_patch: bool,
}

pub struct FakeApi {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
}

impl FakeApi {
    pub fn start(pods: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            pods,
            ..State::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Self { port, state }
    }

    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let p = dir.join("kubeconfig");
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: cni\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: cni\ncurrent-context: fake\n",
                self.port
            ),
        )
        .unwrap();
        p
    }

    pub fn pod(&self, name: &str) -> Value {
        self.state
            .lock()
            .unwrap()
            .pods
            .iter()
            .find(|p| p["metadata"]["name"] == name)
            .cloned()
            .unwrap()
    }

    pub fn annotation(&self, name: &str, key: &str) -> Option<String> {
        self.pod(name)["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_owned)
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}),
    )
}

fn serve(conn: TcpStream, st: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let (mut len, mut ctype) = (0usize, String::new());
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
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
        reader.read_exact(&mut body).unwrap();
        let (code, reply) = handle(st, &method, &path, &ctype, &body);
        let text = reply.to_string();
        let resp = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

fn handle(st: &Mutex<State>, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, Value) {
    let mut s = st.lock().unwrap();
    s.requests
        .push((method.to_owned(), path.to_owned(), ctype.to_owned()));
    let path = path.split('?').next().unwrap_or(path);
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["api", "v1", "namespaces", ns, "pods", name] = seg[..] else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource {path}"),
        );
    };
    let Some(pod) = s
        .pods
        .iter_mut()
        .find(|p| p["metadata"]["name"] == name && p["metadata"]["namespace"] == ns)
    else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    match method {
        "GET" => (200, pod.clone()),
        "PATCH" => {
            let forbid = s.forbid_patch;
            if forbid {
                return status(
                    403,
                    "Forbidden",
                    &format!(
                        "pods \"{name}\" is forbidden: User \"system:serviceaccount:kube-system:userspace-cni\" cannot patch resource \"pods\" in API group \"\" in the namespace \"{ns}\""
                    ),
                );
            }
            let pod = s
                .pods
                .iter_mut()
                .find(|p| p["metadata"]["name"] == name)
                .unwrap();
            assert_eq!(
                ctype, "application/merge-patch+json",
                "the plugin sends a JSON merge patch"
            );
            let patch: Value = serde_json::from_slice(body).unwrap();
            let current = pod["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_owned();
            if let Some(rv) = patch["metadata"]["resourceVersion"].as_str()
                && rv != current
            {
                s.conflicts += 1;
                return status(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on pods \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                );
            }
            if let Some(ann) = patch["metadata"]["annotations"].as_object() {
                let target = pod["metadata"]["annotations"].as_object_mut().unwrap();
                for (k, v) in ann {
                    if v.is_null() {
                        target.remove(k);
                    } else {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
            let next = current.parse::<u64>().unwrap() + 1;
            pod["metadata"]["resourceVersion"] = next.to_string().into();
            (200, pod.clone())
        }
        _ => status(405, "MethodNotAllowed", method),
    }
}

/// A pod with a `shared-dir` volume (hostPath or emptyDir) mounted at `mount_path`.
pub fn pod(name: &str, uid: &str, volume: Value, mount_path: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "100", "annotations": {"k8s.v1.cni.cncf.io/networks": "userspace-ovs"}},
        "spec": {
            "containers": [{"name": "dpdk", "image": "testpmd", "volumeMounts": [
                {"name": "podinfo", "mountPath": "/etc/podinfo"},
                {"name": "shared-dir", "mountPath": mount_path}
            ]}],
            "volumes": [volume, {"name": "podinfo", "downwardAPI": {"items": [{"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}}]
        }
    })
}
