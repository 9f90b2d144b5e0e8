//! A fake Kubernetes API server on loopback HTTP/1.1: the one the workspace's tests and the
//! node demo (`node-harness api`) talk to, serving what this project's clients (the
//! `userspace` plugin, `kubectl-testpmd`, the node harness) and Multus v4.2 use:
//!
//! - pods: create (POST), LIST, GET, DELETE, JSON merge-patch PATCH, and
//!   `PUT …/pods/<name>/status` (how Multus writes network-status), both with `resourceVersion`
//!   optimistic concurrency: a stale version gets 409 Conflict with a `Status` body, as the
//!   API server answers;
//! - pods/exec (feature `exec`): the WebSocket upgrade with the `v4`/`v5.channel.k8s.io`
//!   subprotocols, stdout on channel 1, stderr on 2, the Status on 3;
//! - NetworkAttachmentDefinitions (`k8s.cni.cncf.io/v1`): create, GET, LIST by namespace, DELETE;
//! - events (`POST /api/v1/namespaces/<ns>/events`), recorded;
//! - `/version`.
//!
//! JSON only: a request whose body is not JSON (client-go's protobuf, as Multus sends it) gets
//! 415 Unsupported Media Type, and a client that accepts only protobuf gets 406. Every request is
//! logged in [`State::requests`] for the tests, and [`Fault`]s inject refusals. Not an API
//! server: no authentication, authorisation, watch, admission or validation beyond what these
//! clients need.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

/// The NetworkAttachmentDefinition API group and version.
pub const NAD_API: &str = "/apis/k8s.cni.cncf.io/v1";

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path with its query.
    pub path: String,
    /// `Content-Type` (empty when absent).
    pub content_type: String,
    /// The body, as text.
    pub body: String,
}

impl Request {
    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}

/// A refusal the fake answers instead of serving: `code` for `method` on `resource` (`pods`,
/// `pods/status`, `pods/exec`, `network-attachment-definitions`, `events`), `times` times
/// (`None`: always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// HTTP method.
    pub method: String,
    /// Resource, with its subresource.
    pub resource: String,
    /// Status code (403, 404, 409, 500, …).
    pub code: u16,
    /// How many more requests it applies to.
    pub times: Option<usize>,
}

/// What the fake does on pods/exec.
#[cfg(feature = "exec")]
#[derive(Clone, Debug)]
pub enum ExecReply {
    /// Output and exit code.
    Run {
        /// Channel 1.
        stdout: String,
        /// Channel 2.
        stderr: String,
        /// Exit code (non-zero: a `NonZeroExitCode` Status).
        exit: u8,
    },
    /// The container has no such executable.
    NoExecutable,
}

/// The objects, the log and the injected behaviour.
#[derive(Debug)]
pub struct State {
    /// Pod objects.
    pub pods: Vec<Value>,
    /// NetworkAttachmentDefinition objects.
    pub nads: Vec<Value>,
    /// Events, as POSTed.
    pub events: Vec<Value>,
    /// Every request, in order.
    pub requests: Vec<Request>,
    /// How many 409 Conflicts were answered.
    pub conflicts: usize,
    /// Refusals to answer.
    pub faults: Vec<Fault>,
    /// After this many pod GETs, another writer changes the pod (its `resourceVersion` moves),
    /// as a concurrent controller would between a client's GET and its write.
    pub writes_after_get: usize,
    /// What pods/exec does.
    #[cfg(feature = "exec")]
    pub exec: ExecReply,
    /// The WebSocket subprotocol exec agrees to.
    #[cfg(feature = "exec")]
    pub exec_protocol: String,
    next_version: u64,
}

impl Default for State {
    fn default() -> Self {
        Self {
            pods: Vec::new(),
            nads: Vec::new(),
            events: Vec::new(),
            requests: Vec::new(),
            conflicts: 0,
            faults: Vec::new(),
            writes_after_get: 0,
            #[cfg(feature = "exec")]
            exec: ExecReply::Run {
                stdout: String::new(),
                stderr: String::new(),
                exit: 0,
            },
            #[cfg(feature = "exec")]
            exec_protocol: "v4.channel.k8s.io".into(),
            next_version: 100,
        }
    }
}

impl State {
    /// Refuses `method` on `resource` with `code`, always.
    pub fn refuse(&mut self, method: &str, resource: &str, code: u16) {
        self.faults.push(Fault {
            method: method.into(),
            resource: resource.into(),
            code,
            times: None,
        });
    }

    /// Refuses `method` on `resource` with `code` for the next `times` requests.
    pub fn refuse_times(&mut self, method: &str, resource: &str, code: u16, times: usize) {
        self.faults.push(Fault {
            method: method.into(),
            resource: resource.into(),
            code,
            times: Some(times),
        });
    }

    /// The pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Value> {
        self.pods.iter().find(|p| is(p, namespace, name))
    }

    /// Requests with this method whose path (without query) is `route`.
    pub fn requests_to(&self, method: &str, route: &str) -> Vec<Request> {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.route() == route)
            .cloned()
            .collect()
    }

    fn bump(&mut self) -> String {
        self.next_version += 1;
        self.next_version.to_string()
    }

    fn fault(&mut self, method: &str, resource: &str) -> Option<u16> {
        let f = self
            .faults
            .iter_mut()
            .find(|f| f.method == method && f.resource == resource && f.times != Some(0))?;
        if let Some(t) = &mut f.times {
            *t -= 1;
        }
        Some(f.code)
    }
}

fn is(obj: &Value, namespace: &str, name: &str) -> bool {
    obj["metadata"]["name"] == name && obj["metadata"]["namespace"] == namespace
}

/// A running fake API server; it serves until the process ends.
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
        let state = Arc::new(Mutex::new(State::default()));
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

    /// Starts on any loopback port holding `pods` (each given a `resourceVersion` if it has
    /// none).
    pub fn with_pods(pods: Vec<Value>) -> std::io::Result<Self> {
        let api = Self::start("127.0.0.1:0")?;
        for pod in pods {
            api.add("pods", pod);
        }
        Ok(api)
    }

    /// The state, locked (a panicked test thread does not hide it).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an object of `kind` (`pods`, `nads`) as the API server would store it.
    pub fn add(&self, kind: &str, mut obj: Value) {
        let mut s = self.lock();
        let version = s.bump();
        if obj["metadata"]["namespace"].is_null() {
            obj["metadata"]["namespace"] = "default".into();
        }
        if obj["metadata"]["resourceVersion"].is_null() {
            obj["metadata"]["resourceVersion"] = version.into();
        }
        match kind {
            "nads" => s.nads.push(obj),
            _ => s.pods.push(obj),
        }
    }

    /// The pod `default/<name>`, if any.
    pub fn pod(&self, name: &str) -> Option<Value> {
        self.lock().pod("default", name).cloned()
    }

    /// One annotation of the pod `default/<name>`.
    pub fn annotation(&self, name: &str, key: &str) -> Option<String> {
        self.pod(name)?["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_owned)
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig pointing at this server (token auth, which it does not check).
    pub fn kubeconfig(&self) -> String {
        kubeconfig(&self.url(), None)
    }

    /// Writes [`Self::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Writes a kubeconfig, with the context's `namespace` if given, as `dir/kubeconfig`.
    pub fn kubeconfig_in(
        &self,
        dir: &Path,
        namespace: Option<&str>,
    ) -> std::io::Result<std::path::PathBuf> {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, kubeconfig(&self.url(), namespace))?;
        Ok(path)
    }
}

/// A kubeconfig for `server`, with the context's namespace if given.
pub fn kubeconfig(server: &str, namespace: Option<&str>) -> String {
    let ns = namespace
        .map(|n| format!("    namespace: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\nusers:\n- name: node\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: node\n{ns}current-context: fake\n"
    )
}

/// The `Status` object the API server answers an error with.
pub fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

/// One parsed HTTP request head and body.
struct Incoming {
    req: Request,
    accept: String,
    upgrade: bool,
    #[cfg_attr(not(feature = "exec"), allow(dead_code))]
    headers: Vec<(String, String)>,
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Incoming>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(Some(Incoming {
        req: Request {
            method,
            path,
            content_type: header("content-type"),
            body: String::from_utf8_lossy(&body).into_owned(),
        },
        accept: header("accept"),
        upgrade: header("upgrade").eq_ignore_ascii_case("websocket"),
        headers,
    }))
}

fn respond(out: &mut impl Write, code: u16, reply: &Value) -> std::io::Result<()> {
    let text = reply.to_string();
    write!(
        out,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    )?;
    out.flush()
}

fn serve(conn: TcpStream, st: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    // One connection carries plain requests and, possibly after them (hyper reuses pooled
    // connections), an exec upgrade.
    while let Some(incoming) = read_request(&mut reader)? {
        let lock = || st.lock().unwrap_or_else(|p| p.into_inner());
        if incoming.upgrade {
            let refused = {
                let mut s = lock();
                s.requests.push(incoming.req.clone());
                tracing::debug!("{} {} (upgrade)", incoming.req.method, incoming.req.path);
                exec_refusal(&mut s, &incoming.req)
            };
            if let Some((code, reply)) = refused {
                return respond(&mut out, code, &reply);
            }
            #[cfg(feature = "exec")]
            {
                let (reply, protocol) = {
                    let s = lock();
                    (s.exec.clone(), s.exec_protocol.clone())
                };
                return exec::run(out, &incoming.headers, reply, &protocol);
            }
            #[cfg(not(feature = "exec"))]
            return respond(
                &mut out,
                404,
                &status(404, "NotFound", "exec is not served (feature exec)").1,
            );
        }
        let (code, reply) = {
            let mut s = lock();
            handle(&mut s, &incoming)
        };
        respond(&mut out, code, &reply)?;
    }
    Ok(())
}

/// A refused or impossible exec: its status, else `None` to run it.
fn exec_refusal(s: &mut State, req: &Request) -> Option<(u16, Value)> {
    let seg: Vec<&str> = req.route().trim_start_matches('/').split('/').collect();
    let ["api", "v1", "namespaces", ns, "pods", name, "exec"] = seg[..] else {
        return Some(status(404, "NotFound", "only pods/exec upgrades"));
    };
    if let Some(code) = s
        .fault("POST", "pods/exec")
        .or_else(|| s.fault("GET", "pods/exec"))
    {
        return Some(refusal(code, "create", "pods/exec", ns, name));
    }
    if s.pod(ns, name).is_none() {
        return Some(status(
            404,
            "NotFound",
            &format!("pods \"{name}\" not found"),
        ));
    }
    None
}

/// The API server's answer to a refused request.
fn refusal(code: u16, verb: &str, resource: &str, ns: &str, name: &str) -> (u16, Value) {
    let kind = resource.split_once('/').map_or(resource, |(k, _)| k);
    let group = if kind == "network-attachment-definitions" {
        "k8s.cni.cncf.io"
    } else {
        ""
    };
    match code {
        403 => status(
            403,
            "Forbidden",
            &format!(
                "{kind} \"{name}\" is forbidden: User \"system:serviceaccount:kube-system:test\" cannot {verb} resource \"{resource}\" in API group \"{group}\" in the namespace \"{ns}\""
            ),
        ),
        404 => status(404, "NotFound", &format!("{kind} \"{name}\" not found")),
        409 => status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        ),
        c => status(
            c,
            "InternalError",
            &format!("injected {c} for {verb} {resource}"),
        ),
    }
}

fn verb_of(method: &str, collection: bool) -> &'static str {
    match (method, collection) {
        ("GET", true) => "list",
        ("GET", false) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "unknown",
    }
}

/// The route's resource: kind (with subresource), namespace and name.
struct Route<'a> {
    resource: &'static str,
    ns: &'a str,
    name: Option<&'a str>,
}

fn route(path: &str) -> Option<Route<'_>> {
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let r = |resource, ns, name| Some(Route { resource, ns, name });
    match seg[..] {
        ["api", "v1", "namespaces", ns, "pods"] => r("pods", ns, None),
        ["api", "v1", "namespaces", ns, "pods", name] => r("pods", ns, Some(name)),
        ["api", "v1", "namespaces", ns, "pods", name, "status"] => r("pods/status", ns, Some(name)),
        ["api", "v1", "namespaces", ns, "events"] => r("events", ns, None),
        [
            "apis",
            "k8s.cni.cncf.io",
            "v1",
            "namespaces",
            ns,
            "network-attachment-definitions",
        ] => r("network-attachment-definitions", ns, None),
        [
            "apis",
            "k8s.cni.cncf.io",
            "v1",
            "namespaces",
            ns,
            "network-attachment-definitions",
            name,
        ] => r("network-attachment-definitions", ns, Some(name)),
        _ => None,
    }
}

fn handle(s: &mut State, incoming: &Incoming) -> (u16, Value) {
    let req = &incoming.req;
    s.requests.push(req.clone());
    tracing::debug!("{} {}", req.method, req.path);
    let path = req.route();
    if path == "/version" {
        return (
            200,
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "platform": "linux/amd64"}),
        );
    }
    if !incoming.accept.is_empty()
        && !incoming.accept.contains("json")
        && !incoming.accept.contains("*/*")
    {
        return status(
            406,
            "NotAcceptable",
            &format!(
                "only application/json is served here, not {}",
                incoming.accept
            ),
        );
    }
    let Some(Route { resource, ns, name }) = route(path) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource {path}"),
        );
    };
    let verb = verb_of(&req.method, name.is_none());
    if let Some(code) = s.fault(&req.method, resource) {
        if code == 409 {
            s.conflicts += 1;
        }
        return refusal(code, verb, resource, ns, name.unwrap_or(""));
    }
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else if !req.content_type.contains("json") {
        return status(
            415,
            "UnsupportedMediaType",
            &format!("{} is not supported here: JSON only", req.content_type),
        );
    } else {
        match serde_json::from_str(&req.body) {
            Ok(v) => v,
            Err(e) => return status(400, "BadRequest", &format!("body is not JSON: {e}")),
        }
    };
    match resource {
        "pods" | "pods/status" => pods(s, &req.method, resource, ns, name, &req.content_type, body),
        "network-attachment-definitions" => nads(s, &req.method, ns, name, body),
        _ => events(s, &req.method, ns, body),
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

fn conflict(s: &mut State, name: &str) -> (u16, Value) {
    s.conflicts += 1;
    refusal(409, "update", "pods", "", name)
}

fn pods(
    s: &mut State,
    method: &str,
    resource: &str,
    ns: &str,
    name: Option<&str>,
    ctype: &str,
    body: Value,
) -> (u16, Value) {
    let Some(name) = name else {
        return match method {
            "POST" => create(s, ns, body, "pods"),
            "GET" => (
                200,
                json!({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                       "items": s.pods.iter().filter(|p| p["metadata"]["namespace"] == ns).cloned().collect::<Vec<_>>()}),
            ),
            _ => status(405, "MethodNotAllowed", method),
        };
    };
    let Some(i) = s.pods.iter().position(|p| is(p, ns, name)) else {
        return status(404, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let version = s.bump();
    match method {
        "GET" => {
            let pod = s.pods[i].clone();
            if s.writes_after_get > 0 {
                s.writes_after_get -= 1;
                s.pods[i]["metadata"]["resourceVersion"] = version.into();
            }
            (200, pod)
        }
        "DELETE" => (200, s.pods.remove(i)),
        "PATCH" if resource == "pods" => {
            if ctype != "application/merge-patch+json" {
                return status(
                    415,
                    "UnsupportedMediaType",
                    &format!("{ctype} is not supported here: JSON merge patch only"),
                );
            }
            if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
                && s.pods[i]["metadata"]["resourceVersion"].as_str() != Some(rv)
            {
                return conflict(s, name);
            }
            let pod = &mut s.pods[i];
            merge(pod, &body);
            pod["metadata"]["resourceVersion"] = version.into();
            (200, pod.clone())
        }
        "PUT" => {
            // A PUT must carry the version it read: the API server refuses an update without
            // one for pods, and a stale one with 409.
            let rv = body["metadata"]["resourceVersion"].as_str();
            if rv.is_none() {
                return status(
                    422,
                    "Invalid",
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                );
            }
            if s.pods[i]["metadata"]["resourceVersion"].as_str() != rv {
                return conflict(s, name);
            }
            let pod = &mut s.pods[i];
            if resource == "pods/status" {
                // The status subresource takes the status and the metadata (Multus writes its
                // annotation this way); the spec stays.
                pod["status"] = body["status"].clone();
                pod["metadata"]["annotations"] = body["metadata"]["annotations"].clone();
                pod["metadata"]["labels"] = body["metadata"]["labels"].clone();
            } else {
                let spec = pod["spec"].clone();
                *pod = body;
                pod["spec"] = spec;
            }
            pod["metadata"]["resourceVersion"] = version.into();
            (200, pod.clone())
        }
        _ => status(405, "MethodNotAllowed", method),
    }
}

fn create(s: &mut State, ns: &str, mut obj: Value, kind: &str) -> (u16, Value) {
    let Some(name) = obj["metadata"]["name"].as_str().map(str::to_owned) else {
        return status(422, "Invalid", "metadata.name: Required value");
    };
    let list = if kind == "pods" { &s.pods } else { &s.nads };
    if list.iter().any(|o| is(o, ns, &name)) {
        return status(
            409,
            "AlreadyExists",
            &format!("{kind} \"{name}\" already exists"),
        );
    }
    let version = s.bump();
    obj["metadata"]["namespace"] = ns.into();
    obj["metadata"]["resourceVersion"] = version.into();
    if kind == "pods" {
        if !obj["metadata"]["annotations"].is_object() {
            obj["metadata"]["annotations"] = json!({});
        }
        s.pods.push(obj.clone());
    } else {
        s.nads.push(obj.clone());
    }
    (201, obj)
}

fn nads(s: &mut State, method: &str, ns: &str, name: Option<&str>, body: Value) -> (u16, Value) {
    let kind = "network-attachment-definitions";
    let Some(name) = name else {
        return match method {
            "POST" => create(s, ns, body, kind),
            "GET" => (
                200,
                json!({"kind": "NetworkAttachmentDefinitionList", "apiVersion": "k8s.cni.cncf.io/v1", "metadata": {},
                       "items": s.nads.iter().filter(|n| n["metadata"]["namespace"] == ns).cloned().collect::<Vec<_>>()}),
            ),
            _ => status(405, "MethodNotAllowed", method),
        };
    };
    let Some(i) = s.nads.iter().position(|n| is(n, ns, name)) else {
        return status(
            404,
            "NotFound",
            &format!("{kind}.k8s.cni.cncf.io \"{name}\" not found"),
        );
    };
    match method {
        "GET" => (200, s.nads[i].clone()),
        "DELETE" => (200, s.nads.remove(i)),
        _ => status(405, "MethodNotAllowed", method),
    }
}

fn events(s: &mut State, method: &str, ns: &str, mut body: Value) -> (u16, Value) {
    match method {
        "POST" => {
            body["metadata"]["namespace"] = ns.into();
            s.events.push(body.clone());
            (201, body)
        }
        "GET" => (
            200,
            json!({"kind": "EventList", "apiVersion": "v1", "metadata": {},
                   "items": s.events.iter().filter(|e| e["metadata"]["namespace"] == ns).cloned().collect::<Vec<_>>()}),
        ),
        _ => status(405, "MethodNotAllowed", method),
    }
}

#[cfg(feature = "exec")]
mod exec {
    use std::net::TcpStream;

    use serde_json::json;
    use tungstenite::handshake::derive_accept_key;
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Bytes, Message};

    use super::ExecReply;

    pub(super) fn run(
        mut conn: TcpStream,
        headers: &[(String, String)],
        reply: ExecReply,
        protocol: &str,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let header = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let offered = header("sec-websocket-protocol");
        if !offered.split(',').any(|p| p.trim() == protocol) {
            // The API server agrees on a subprotocol the client offers, or refuses.
            return super::respond(
                &mut conn,
                400,
                &super::status(
                    400,
                    "BadRequest",
                    &format!("no subprotocol {protocol} in {offered}"),
                )
                .1,
            );
        }
        let accept = derive_accept_key(header("sec-websocket-key").as_bytes());
        write!(
            conn,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
        )?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
        let mut ws = WebSocket::from_raw_socket(conn, Role::Server, None);
        let frame = |ch: u8, data: &[u8]| {
            let mut v = vec![ch];
            v.extend_from_slice(data);
            Message::Binary(Bytes::from(v))
        };
        let status = match reply {
            ExecReply::Run {
                stdout,
                stderr,
                exit,
            } => {
                for (ch, text) in [(1, stdout), (2, stderr)] {
                    if !text.is_empty() {
                        ws.send(frame(ch, text.as_bytes()))
                            .map_err(std::io::Error::other)?;
                    }
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
        };
        ws.send(frame(3, status.to_string().as_bytes()))
            .map_err(std::io::Error::other)?;
        let _ = ws.close(None);
        // Until the client's close (or the timeout): the close handshake completes.
        while ws.read().is_ok() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn call(s: &mut State, method: &str, path: &str, ctype: &str, body: &str) -> (u16, Value) {
        handle(
            s,
            &Incoming {
                req: Request {
                    method: method.into(),
                    path: path.into(),
                    content_type: ctype.into(),
                    body: body.into(),
                },
                accept: "application/json".into(),
                upgrade: false,
                headers: Vec::new(),
            },
        )
    }

    const POD: &str = "/api/v1/namespaces/default/pods/fwd";
    const MERGE: &str = "application/merge-patch+json";

    fn api() -> State {
        let mut s = State::default();
        let (code, _) = call(
            &mut s,
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            r#"{"metadata":{"name":"fwd","uid":"u1"},"spec":{"containers":[]}}"#,
        );
        assert_eq!(code, 201);
        s
    }

    #[test]
    fn a_created_pod_can_be_read() {
        let mut s = api();
        let (code, pod) = call(&mut s, "GET", POD, "", "");
        assert_eq!((code, pod["metadata"]["uid"].as_str()), (200, Some("u1")));
    }

    #[test]
    fn a_patch_merges_annotations_and_null_removes_one() {
        let mut s = api();
        call(
            &mut s,
            "PATCH",
            POD,
            MERGE,
            r#"{"metadata":{"annotations":{"a":"1","b":"2"}}}"#,
        );
        let (_, pod) = call(
            &mut s,
            "PATCH",
            POD,
            MERGE,
            r#"{"metadata":{"annotations":{"a":null}}}"#,
        );
        assert_eq!(pod["metadata"]["annotations"], json!({"b": "2"}));
    }

    #[test]
    fn a_stale_resource_version_conflicts() {
        let mut s = api();
        let (code, body) = call(
            &mut s,
            "PATCH",
            POD,
            MERGE,
            r#"{"metadata":{"resourceVersion":"1","annotations":{"a":"1"}}}"#,
        );
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
        assert_eq!(s.conflicts, 1);
    }

    #[test]
    fn put_status_replaces_annotations_with_the_version_read_and_keeps_the_spec() {
        let mut s = api();
        let (_, mut pod) = call(&mut s, "GET", POD, "", "");
        pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"] = "[]".into();
        pod["spec"] = json!({"changed": true});
        let status_path = format!("{POD}/status");
        let (code, after) = call(
            &mut s,
            "PUT",
            &status_path,
            "application/json",
            &pod.to_string(),
        );
        assert_eq!(code, 200);
        assert_eq!(
            after["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"],
            "[]"
        );
        assert_eq!(after["spec"], json!({"containers": []}));
        // The same body again carries a version that is now stale.
        let (code, body) = call(
            &mut s,
            "PUT",
            &status_path,
            "application/json",
            &pod.to_string(),
        );
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
    }

    #[test]
    fn a_write_after_a_get_makes_the_version_read_stale() {
        let mut s = api();
        s.writes_after_get = 1;
        let (_, pod) = call(&mut s, "GET", POD, "", "");
        let (code, _) = call(
            &mut s,
            "PUT",
            &format!("{POD}/status"),
            "application/json",
            &pod.to_string(),
        );
        assert_eq!(code, 409);
        let (_, pod) = call(&mut s, "GET", POD, "", "");
        let (code, _) = call(
            &mut s,
            "PUT",
            &format!("{POD}/status"),
            "application/json",
            &pod.to_string(),
        );
        assert_eq!(code, 200);
    }

    #[test]
    fn nads_are_read_and_listed_by_namespace() {
        let mut s = State::default();
        let list = format!("{NAD_API}/namespaces/default/network-attachment-definitions");
        for (ns, name) in [("default", "a"), ("default", "b"), ("other", "c")] {
            let path = format!("{NAD_API}/namespaces/{ns}/network-attachment-definitions");
            let nad = json!({"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
                             "metadata": {"name": name}, "spec": {"config": "{}"}});
            assert_eq!(
                call(&mut s, "POST", &path, "application/json", &nad.to_string()).0,
                201
            );
        }
        let (code, nad) = call(&mut s, "GET", &format!("{list}/b"), "", "");
        assert_eq!(
            (code, nad["metadata"]["namespace"].as_str()),
            (200, Some("default"))
        );
        let (_, all) = call(&mut s, "GET", &list, "", "");
        let names: Vec<_> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, [json!("a"), json!("b")]);
        let (code, missing) = call(&mut s, "GET", &format!("{list}/c"), "", "");
        assert_eq!(
            (code, missing["message"].as_str()),
            (
                404,
                Some("network-attachment-definitions.k8s.cni.cncf.io \"c\" not found")
            )
        );
    }

    #[test]
    fn events_are_recorded() {
        let mut s = State::default();
        let ev = json!({"metadata": {"generateName": "fwd."}, "reason": "AddedInterface"});
        let (code, _) = call(
            &mut s,
            "POST",
            "/api/v1/namespaces/default/events",
            "application/json",
            &ev.to_string(),
        );
        assert_eq!(code, 201);
        assert_eq!(s.events[0]["reason"], "AddedInterface");
    }

    #[test]
    fn protobuf_bodies_are_refused_and_version_is_served() {
        let mut s = api();
        let (code, _) = call(
            &mut s,
            "PUT",
            &format!("{POD}/status"),
            "application/vnd.kubernetes.protobuf",
            "k8s\0",
        );
        assert_eq!(code, 415);
        assert_eq!(call(&mut s, "GET", "/version", "", "").1["major"], "1");
        assert_eq!(s.requests.len(), 3, "every request is logged");
    }

    #[test]
    fn a_fault_answers_instead_of_the_resource_as_many_times_as_asked() {
        let mut s = api();
        s.refuse_times("PUT", "pods/status", 403, 1);
        let (_, pod) = call(&mut s, "GET", POD, "", "");
        let put = |s: &mut State| {
            call(
                s,
                "PUT",
                &format!("{POD}/status"),
                "application/json",
                &pod.to_string(),
            )
        };
        let (code, body) = put(&mut s);
        assert_eq!(code, 403);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("cannot update resource \"pods/status\"")
        );
        assert_eq!(put(&mut s).0, 200);
    }

    #[test]
    fn a_deleted_pod_is_not_found() {
        let mut s = api();
        assert_eq!(call(&mut s, "DELETE", POD, "", "").0, 200);
        assert_eq!(call(&mut s, "GET", POD, "", "").0, 404);
    }
}
