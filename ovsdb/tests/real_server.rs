//! The client against a real `ovsdb-server` (Debian's openvswitch packages) serving two
//! databases — `Open_vSwitch` and a small test schema with scalar, set and map columns — on a
//! unix socket, TCP and SSL (a CA, server and client certificates made by `openssl`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovsdb::value::{decode_map, decode_set, map, named, uuid};
use ovsdb::{
    Client, Condition, Endpoint, Error, MonitorRequest, Mutation, Mutator, Operation, TlsFiles,
    Until, row,
};
use serde_json::{Value, json};

const SCHEMA: &str = r#"{
  "name": "Userspace_Test", "version": "1.0.0",
  "tables": {
    "Thing": {
      "columns": {
        "name": {"type": "string"},
        "count": {"type": {"key": "integer", "min": 0, "max": 1}},
        "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
        "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}
      },
      "indexes": [["name"]], "isRoot": true
    }
  }
}"#;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Server {
    dir: tempfile::TempDir,
    child: Child,
    tcp: u16,
    ssl: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_certs(dir: &Path) {
    let o = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir));
    o(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=userspace-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:ovsdb-server\n",
    )
    .unwrap();
    for who in ["server", "client"] {
        o(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{who}.key"),
            "-out",
            &format!("{who}.csr"),
            "-subj",
            &format!("/CN={who}"),
        ]);
        o(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{who}.crt"),
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
    }
}

impl Server {
    fn start() -> Self {
        assert!(
            Path::new("/usr/sbin/ovsdb-server").exists(),
            "ovsdb-server is not installed: run `bash scripts/setup-host.sh` (openvswitch-switch-dpdk)"
        );
        let dir = tempfile::Builder::new()
            .prefix("ovsdb")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        std::fs::write(d.join("test.ovsschema"), SCHEMA).unwrap();
        run(Command::new("ovsdb-tool")
            .arg("create")
            .arg(d.join("ovs.db"))
            .arg("/usr/share/openvswitch/vswitch.ovsschema"));
        run(Command::new("ovsdb-tool")
            .arg("create")
            .arg(d.join("test.db"))
            .arg(d.join("test.ovsschema")));
        make_certs(d);
        let (tcp, ssl) = (free_port(), free_port());
        let child = Command::new("ovsdb-server")
            .arg(format!("--remote=punix:{}", d.join("db.sock").display()))
            .arg(format!("--remote=ptcp:{tcp}:127.0.0.1"))
            .arg(format!("--remote=pssl:{ssl}:127.0.0.1"))
            .arg(format!("--private-key={}", d.join("server.key").display()))
            .arg(format!("--certificate={}", d.join("server.crt").display()))
            .arg(format!("--ca-cert={}", d.join("ca.crt").display()))
            .arg(format!("--unixctl={}", d.join("ctl").display()))
            .arg(format!(
                "--log-file={}",
                d.join("ovsdb-server.log").display()
            ))
            .arg(d.join("ovs.db"))
            .arg(d.join("test.db"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Self {
            dir,
            child,
            tcp,
            ssl,
        };
        let deadline = Instant::now() + TIMEOUT;
        while !(s.path("db.sock").exists()
            && std::net::TcpStream::connect(("127.0.0.1", tcp)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", ssl)).is_ok())
        {
            assert!(
                Instant::now() < deadline,
                "ovsdb-server did not listen: {}",
                std::fs::read_to_string(s.path("ovsdb-server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn unix(&self, db: &str) -> Client {
        let e = Endpoint::parse(&format!("unix:{}", self.path("db.sock").display())).unwrap();
        Client::connect(&e, None, db, TIMEOUT).unwrap()
    }

    fn tcp(&self, db: &str) -> Client {
        let e = Endpoint::parse(&format!("tcp:127.0.0.1:{}", self.tcp)).unwrap();
        Client::connect(&e, None, db, TIMEOUT).unwrap()
    }

    fn tls_files(&self, ca: &str) -> TlsFiles {
        TlsFiles {
            private_key: self.path("client.key"),
            certificate: self.path("client.crt"),
            ca_certificate: self.path(ca),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn insert_thing(name: &str, tags: &[&str]) -> Operation {
    Operation::Insert {
        table: "Thing".into(),
        row: row([
            ("name", json!(name)),
            ("tags", json!(["set", tags])),
            (
                "external_ids",
                map(&[("owner".to_owned(), "test".to_owned())].into()),
            ),
        ]),
        uuid_name: None,
    }
}

fn select_things(c: &mut Client) -> Vec<Value> {
    let r = c
        .transact(&[Operation::Select {
            table: "Thing".into(),
            conditions: vec![],
            columns: None,
        }])
        .unwrap();
    r[0]["rows"].as_array().unwrap().clone()
}

#[test]
fn two_databases_are_served_over_unix_and_tcp() {
    let s = Server::start();
    let mut dbs = s.unix("Open_vSwitch").list_dbs().unwrap();
    dbs.sort();
    assert_eq!(dbs, ["Open_vSwitch", "Userspace_Test", "_Server"]);
    s.tcp("Userspace_Test")
        .transact(&[insert_thing("a", &["x"])])
        .unwrap();
    let rows = select_things(&mut s.unix("Userspace_Test"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "a");
    let ovs = s.tcp("Open_vSwitch").transact(&[Operation::Select {
        table: "Open_vSwitch".into(),
        conditions: vec![],
        columns: Some(vec!["_uuid".into()]),
    }]);
    assert!(ovs.unwrap()[0]["rows"].as_array().unwrap().is_empty());
}

#[test]
fn named_uuids_link_rows_of_one_transaction() {
    let s = Server::start();
    let mut c = s.unix("Open_vSwitch");
    let r = c
        .transact(&[
            Operation::Insert {
                table: "Interface".into(),
                row: row([("name", json!("p1")), ("type", json!("internal"))]),
                uuid_name: Some("i".into()),
            },
            Operation::Insert {
                table: "Port".into(),
                row: row([("name", json!("p1")), ("interfaces", named("i"))]),
                uuid_name: Some("p".into()),
            },
            Operation::Insert {
                table: "Bridge".into(),
                row: row([("name", json!("br0")), ("ports", named("p"))]),
                uuid_name: None,
            },
            Operation::Insert {
                table: "Open_vSwitch".into(),
                row: row([("bridges", json!(["set", [["named-uuid", "br"]]]))]),
                uuid_name: None,
            },
        ])
        .unwrap_err();
    // "br" names nothing: the server refuses the whole transaction, naming the reference.
    assert!(r.to_string().contains("br"), "{r}");
    let ok = c
        .transact(&[
            Operation::Insert {
                table: "Interface".into(),
                row: row([("name", json!("p1"))]),
                uuid_name: Some("i".into()),
            },
            Operation::Insert {
                table: "Port".into(),
                row: row([("name", json!("p1")), ("interfaces", named("i"))]),
                uuid_name: Some("p".into()),
            },
            Operation::Insert {
                table: "Bridge".into(),
                row: row([("name", json!("br0")), ("ports", named("p"))]),
                uuid_name: Some("b".into()),
            },
            Operation::Insert {
                table: "Open_vSwitch".into(),
                row: row([("bridges", named("b"))]),
                uuid_name: None,
            },
        ])
        .unwrap();
    let port = ok[1]["uuid"].clone();
    let bridges = c
        .transact(&[Operation::Select {
            table: "Bridge".into(),
            conditions: vec![Condition::includes("ports", port)],
            columns: Some(vec!["name".into()]),
        }])
        .unwrap();
    assert_eq!(bridges[0]["rows"], json!([{"name": "br0"}]));
}

#[test]
fn a_failed_operation_is_named_by_index_and_nothing_commits() {
    let s = Server::start();
    let mut c = s.unix("Userspace_Test");
    let e = c
        .transact(&[insert_thing("a", &[]), insert_thing("a", &[])])
        .unwrap_err();
    assert!(e.is_constraint_violation(), "{e}");
    assert!(
        matches!(e, Error::OpFailed { index: 2, .. }),
        "a commit failure: {e}"
    );
    assert!(select_things(&mut c).is_empty());
}

#[test]
fn a_wait_guards_a_transaction_on_a_row_that_must_exist() {
    let s = Server::start();
    let mut c = s.unix("Userspace_Test");
    let guard = |name: &str| Operation::Wait {
        table: "Thing".into(),
        conditions: vec![Condition::eq("name", json!(name))],
        columns: vec!["name".into()],
        until: Until::Eq,
        rows: vec![row([("name", json!(name))])],
        timeout_ms: Some(0),
    };
    let e = c
        .transact(&[guard("absent"), insert_thing("b", &[])])
        .unwrap_err();
    assert!(
        matches!(&e, Error::OpFailed { index: 0, error, .. } if error == "timed out"),
        "{e}"
    );
    assert!(
        select_things(&mut c).is_empty(),
        "the insert behind the guard did not commit"
    );
    c.transact(&[insert_thing("a", &[])]).unwrap();
    c.transact(&[guard("a"), insert_thing("b", &[])]).unwrap();
    assert_eq!(select_things(&mut c).len(), 2);
}

#[test]
fn a_blocking_wait_is_answered_when_another_client_makes_the_row() {
    let s = Server::start();
    let mut waiter = s.tcp("Userspace_Test");
    let mut writer = s.unix("Userspace_Test");
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        writer.transact(&[insert_thing("late", &[])]).unwrap();
    });
    waiter
        .transact(&[Operation::Wait {
            table: "Thing".into(),
            conditions: vec![Condition::eq("name", json!("late"))],
            columns: vec!["name".into()],
            until: Until::Eq,
            rows: vec![row([("name", json!("late"))])],
            timeout_ms: Some(20_000),
        }])
        .unwrap();
    t.join().unwrap();
}

#[test]
fn monitor_cond_keeps_the_cache_current_through_update2_diffs() {
    let s = Server::start();
    let mut watcher = s.tcp("Userspace_Test");
    let mut writer = s.unix("Userspace_Test");
    writer.transact(&[insert_thing("a", &["x", "y"])]).unwrap();
    let mut req = MonitorRequest::new("Thing", &[]);
    req.conditions = vec![Condition::eq("name", json!("a"))];
    watcher.monitor_cond("m", &[req]).unwrap();
    let cached = |c: &Client| {
        c.cache()
            .table("Thing")
            .map(|(_, r)| r.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(cached(&watcher).len(), 1);
    writer
        .transact(&[
            Operation::Mutate {
                table: "Thing".into(),
                conditions: vec![Condition::eq("name", json!("a"))],
                mutations: vec![
                    Mutation::new("tags", Mutator::Delete, json!(["set", ["x"]])),
                    Mutation::new("tags", Mutator::Insert, json!(["set", ["z"]])),
                    Mutation::new(
                        "external_ids",
                        Mutator::Insert,
                        map(&[("k".to_owned(), "v".to_owned())].into()),
                    ),
                ],
            },
            Operation::Update {
                table: "Thing".into(),
                conditions: vec![Condition::eq("name", json!("a"))],
                row: row([("count", json!(3))]),
            },
            insert_thing("not-watched", &[]),
        ])
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        watcher.poll(Duration::from_millis(200)).unwrap();
        let rows = cached(&watcher);
        let mut tags: Vec<Value> = decode_set(&rows[0]["tags"]);
        tags.sort_by_key(|v| v.to_string());
        if tags == [json!("y"), json!("z")] {
            assert_eq!(decode_set(&rows[0]["count"]), [json!(3)]);
            assert_eq!(
                decode_map(&rows[0]["external_ids"])
                    .get("k")
                    .map(String::as_str),
                Some("v")
            );
            assert_eq!(rows.len(), 1, "the condition keeps other rows out");
            break;
        }
        assert!(Instant::now() < deadline, "cache never caught up: {rows:?}");
    }
    writer
        .transact(&[Operation::Delete {
            table: "Thing".into(),
            conditions: vec![Condition::eq("name", json!("a"))],
        }])
        .unwrap();
    while !cached(&watcher).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the delete never reached the cache"
        );
        watcher.poll(Duration::from_millis(200)).unwrap();
    }
}

#[test]
fn monitor_keeps_the_cache_current_through_update_notifications() {
    let s = Server::start();
    let mut watcher = s.unix("Open_vSwitch");
    // A root table: a row of a non-root one that nothing refers to is collected at commit.
    watcher
        .monitor(
            "m",
            &[MonitorRequest::new("Open_vSwitch", &["external_ids"])],
        )
        .unwrap();
    assert_eq!(watcher.cache().table("Open_vSwitch").count(), 0);
    let mut writer = s.tcp("Open_vSwitch");
    let ids = map(&[("system-id".to_owned(), "node-a".to_owned())].into());
    let r = writer
        .transact(&[Operation::Insert {
            table: "Open_vSwitch".into(),
            row: row([("external_ids", ids)]),
            uuid_name: None,
        }])
        .unwrap();
    let id = r[0]["uuid"][1].as_str().unwrap().to_owned();
    let deadline = Instant::now() + TIMEOUT;
    while watcher.cache().row("Open_vSwitch", &id).is_none() {
        assert!(
            Instant::now() < deadline,
            "the insert never reached the cache"
        );
        watcher.poll(Duration::from_millis(200)).unwrap();
    }
    let cached = &watcher.cache().row("Open_vSwitch", &id).unwrap()["external_ids"];
    assert_eq!(decode_map(cached)["system-id"], "node-a");
    writer
        .transact(&[Operation::Delete {
            table: "Open_vSwitch".into(),
            conditions: vec![Condition::eq("_uuid", uuid(&id))],
        }])
        .unwrap();
    while watcher.cache().row("Open_vSwitch", &id).is_some() {
        assert!(
            Instant::now() < deadline,
            "the delete never reached the cache"
        );
        watcher.poll(Duration::from_millis(200)).unwrap();
    }
}

#[test]
fn ssl_with_a_client_certificate_reaches_both_databases() {
    let s = Server::start();
    let e = Endpoint::parse(&format!("ssl:127.0.0.1:{}", s.ssl)).unwrap();
    let files = s.tls_files("ca.crt");
    let mut c = Client::connect(&e, Some(&files), "Userspace_Test", TIMEOUT).unwrap();
    c.transact(&[insert_thing("over-tls", &[])]).unwrap();
    assert!(c.list_dbs().unwrap().contains(&"Open_vSwitch".to_owned()));
    assert_eq!(
        select_things(&mut s.unix("Userspace_Test"))[0]["name"],
        "over-tls"
    );
}

#[test]
fn ssl_refuses_a_server_whose_certificate_another_ca_signed() {
    let s = Server::start();
    // The client's own certificate as the only trusted CA: the server's chain does not verify.
    let e = Endpoint::parse(&format!("ssl:127.0.0.1:{}", s.ssl)).unwrap();
    let files = s.tls_files("client.crt");
    let r =
        Client::connect(&e, Some(&files), "Userspace_Test", TIMEOUT).and_then(|mut c| c.list_dbs());
    assert!(r.is_err(), "{r:?}");
    let no_files = Client::connect(&e, None, "Userspace_Test", TIMEOUT).unwrap_err();
    assert!(
        no_files.to_string().contains("needs a private key"),
        "{no_files}"
    );
}
