//! `userspace-agent vpp` against a fake VPP that speaks the real binary API (VPP is not
//! packaged for Debian), and `vpp-startup`'s file for a fixture pod.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use support::{Pod, agent_bin, config_entry};
use vpp_api::fake::{FIRST_PICKED_SOCKET_ID, FakeVpp, IfKind, Interface, State};
use vpp_api::messages::memif::MemifRole;

fn agent(pod: &Pod, args: &[&str]) -> Output {
    Command::new(agent_bin())
        .args(pod.agent_args(args))
        .env_remove("USERSPACE_SHARED_DIR")
        .env_remove("USERSPACE_VPP_API_SOCKET")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A pod whose host VPP made a memif master socket for `net1` in the shared dir.
fn memif_pod() -> (Pod, UnixListener, PathBuf) {
    let pod = Pod::new();
    let sock = format!("memif-{}-net1.sock", pod.id12());
    let cfg = json!({"engine": "vpp", "iftype": "memif", "netType": "interface",
                     "memif": {"role": "slave", "mode": "ethernet", "socketfile": sock}});
    pod.configure(
        &[config_entry(&pod.id, "net1", cfg, "10.56.217.10/24")],
        None,
    );
    let path = pod.shared().join(&sock);
    let listener = UnixListener::bind(&path).unwrap();
    (pod, listener, path)
}

fn fake_vpp(pod: &Pod, state: State) -> FakeVpp {
    FakeVpp::start_with(pod.dir.path().join("api.sock"), state).unwrap()
}

fn api(vpp: &FakeVpp) -> String {
    vpp.path().display().to_string()
}

#[test]
fn vpp_creates_a_memif_slave_on_the_shared_socket_and_addresses_and_routes_it() {
    let (pod, _host, socket) = memif_pod();
    let vpp = fake_vpp(&pod, State::default());
    let out = agent(
        &pod,
        &["vpp", "--api-socket", &api(&vpp), "--wait-timeout", "5s"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = vpp.state();
    assert_eq!(
        st.requests()
            .into_iter()
            .filter(|m| m != "sockclnt_create" && m != "sockclnt_delete")
            .collect::<Vec<_>>(),
        [
            "show_version",
            "memif_socket_filename_dump",
            "memif_socket_filename_add_del_v2",
            "memif_dump",
            "memif_create_v2",
            "sw_interface_set_flags",
            "ip_address_dump",
            "sw_interface_add_del_address",
            "ip_route_dump",
            "ip_route_add_del",
        ]
    );
    let id = FIRST_PICKED_SOCKET_ID;
    assert_eq!(st.sockets.get(&id).map(String::as_str), socket.to_str());
    let (sw, memif) = st.interface_named(&format!("memif{id}/0")).unwrap();
    assert!(matches!(
        memif.kind,
        IfKind::Memif {
            role: MemifRole::SLAVE,
            ..
        }
    ));
    assert_eq!(memif.mac, [2, 0, 0, 0, 0, 1], "the MAC from the CNI result");
    assert!(memif.admin_up);
    assert_eq!(memif.addresses[0].to_string(), "10.56.217.10/24");
    let route = &st.routes[0];
    assert_eq!(route.prefix.to_string(), "0.0.0.0/0");
    assert_eq!(route.paths[0].sw_if_index, sw);
    assert_eq!(
        &route.paths[0].nh.address[..4],
        &[10, 56, 217, 1],
        "via the IPAM gateway"
    );
    let s = text(&out.stdout);
    assert!(s.contains(&format!("net1 [memif] -> memif{id}/0")), "{s}");
    assert!(s.contains("0.0.0.0/0 via 10.56.217.1"), "{s}");
}

#[test]
fn running_vpp_again_changes_nothing_and_succeeds() {
    let (pod, _host, _) = memif_pod();
    let vpp = fake_vpp(&pod, State::default());
    let first = agent(&pod, &["vpp", "--api-socket", &api(&vpp), "--json"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let (interfaces, addresses, routes, sent) = {
        let st = vpp.state();
        let (_, memif) = st
            .interface_named(&format!("memif{FIRST_PICKED_SOCKET_ID}/0"))
            .unwrap();
        (
            st.interfaces.clone(),
            memif.addresses.clone(),
            st.routes.clone(),
            st.log.len(),
        )
    };
    assert!(
        !addresses.is_empty() && !routes.is_empty(),
        "the pod has both"
    );
    let second = agent(&pod, &["vpp", "--api-socket", &api(&vpp), "--json"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let st = vpp.state();
    assert_eq!(st.interfaces, interfaces);
    assert_eq!(st.routes, routes);
    let changes: Vec<_> = st.log[sent..]
        .iter()
        .filter(|m| m.ends_with("_add_del") || m.ends_with("_add_del_v2") || m.contains("create"))
        .filter(|m| *m != "sockclnt_create")
        .collect();
    assert!(changes.is_empty(), "the second run changed {changes:?}");
}

#[test]
fn a_vhost_user_interface_is_the_dpdk_port_with_the_pods_mac() {
    let pod = Pod::new();
    let cfg = json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface",
                     "vhost": {"mode": "server", "socketfile": "v-net1"}});
    pod.configure(
        &[config_entry(&pod.id, "net1", cfg, "10.56.217.11/24")],
        None,
    );
    let mut st = State::default();
    // What VPP's DPDK plugin made from the startup.conf's net_virtio_user vdev.
    st.interfaces.insert(
        5,
        Interface {
            name: "VirtioUser0/0/0".into(),
            kind: IfKind::Local,
            mac: [2, 0, 0, 0, 0, 1],
            admin_up: false,
            addresses: Vec::new(),
            bridge: None,
            l2: Default::default(),
            tag: String::new(),
            unnumbered: None,
        },
    );
    let vpp = fake_vpp(&pod, st);
    let out = agent(&pod, &["vpp", "--api-socket", &api(&vpp)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let st = vpp.state();
    let i = &st.interfaces[&5];
    assert!(i.admin_up);
    assert_eq!(i.addresses[0].to_string(), "10.56.217.11/24");
    assert!(!st.log.iter().any(|m| m.starts_with("memif")));
}

#[test]
fn a_vhost_user_interface_vpp_does_not_have_says_how_to_start_vpp() {
    let pod = Pod::new();
    let cfg = json!({"engine": "ovs-dpdk", "iftype": "vhostuser",
                     "vhost": {"mode": "server", "socketfile": "v-net1"}});
    pod.configure(
        &[config_entry(&pod.id, "net1", cfg, "10.56.217.11/24")],
        None,
    );
    let vpp = fake_vpp(&pod, State::default());
    let out = agent(&pod, &["vpp", "--api-socket", &api(&vpp)]);
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains("no interface with MAC 02:00:00:00:00:01") && e.contains("vpp-startup"),
        "{e}"
    );
}

#[test]
fn without_vpp_it_gives_up_after_the_timeout_naming_the_socket() {
    let (pod, _host, _) = memif_pod();
    let absent = pod.dir.path().join("nope.sock");
    let out = agent(
        &pod,
        &[
            "vpp",
            "--api-socket",
            absent.to_str().unwrap(),
            "--wait-timeout",
            "1s",
        ],
    );
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(e.contains("nope.sock") && e.contains("socksvr"), "{e}");
}

#[test]
fn a_vpp_with_a_changed_memif_api_is_refused_before_any_change() {
    let (pod, _host, _) = memif_pod();
    let mut st = State::default();
    st.crc_overrides.insert("memif_create_v2", "12345678");
    let vpp = fake_vpp(&pod, st);
    let out = agent(&pod, &["vpp", "--api-socket", &api(&vpp)]);
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains("memif_create_v2") && e.contains("12345678"),
        "{e}"
    );
    assert_eq!(vpp.state().interfaces.len(), 1);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sdk/tests/fixtures/resources")
        .join(name)
}

/// `vpp-startup` with /proc and /sys taken from a resources fixture.
fn vpp_startup(pod: &Pod, resources: &str, extra: &[&str]) -> Output {
    let fx = fixture(resources);
    let (proc_root, sys_root) = (fx.join("proc"), fx.join("sys"));
    let mut args = vec![
        "--proc-root",
        proc_root.to_str().unwrap(),
        "--sys-root",
        sys_root.to_str().unwrap(),
        "vpp-startup",
    ];
    args.extend_from_slice(extra);
    agent(pod, &args)
}

#[test]
fn vpp_startup_without_hugepages_uses_4k_pages_workers_and_a_virtio_user_vdev() {
    let pod = Pod::new();
    let vsock = format!("{}-net1", pod.id12());
    let msock = format!("memif-{}-net2.sock", pod.id12());
    pod.configure(
        &[
            config_entry(
                &pod.id,
                "net1",
                json!({"engine": "ovs-dpdk", "iftype": "vhostuser", "vhost": {"mode": "server", "socketfile": vsock}}),
                "10.56.217.10/24",
            ),
            config_entry(
                &pod.id,
                "net2",
                json!({"engine": "vpp", "iftype": "memif", "memif": {"role": "slave", "socketfile": msock}}),
                "10.56.218.10/24",
            ),
        ],
        None,
    );
    let out = vpp_startup(&pod, "no-hugepages", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = format!(
        "unix {{
  nodaemon
  runtime-dir /run/vpp
  cli-listen /run/vpp/cli.sock
}}
socksvr {{ socket-name /run/vpp/api.sock }}
cpu {{ main-core 0 corelist-workers 1-7 }}
memory {{ main-heap-size 256M main-heap-page-size 4k }}
buffers {{ buffers-per-numa 16384 page-size 4k }}
statseg {{ size 32M page-size 4k }}
dpdk {{
  no-hugetlb
  no-pci
  vdev net_virtio_user0,path={}/{vsock},server=1,queues=1,mac=02:00:00:00:00:01
}}
",
        pod.shared().display()
    );
    assert_eq!(text(&out.stdout), want);
}

#[test]
fn vpp_startup_for_memif_only_disables_the_dpdk_plugin_and_writes_the_file() {
    let (pod, _host, _) = memif_pod();
    let out_file = pod.dir.path().join("etc/vpp/startup.conf");
    let out = vpp_startup(
        &pod,
        "no-hugepages",
        &["--no-workers", "--output", out_file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        conf.contains("plugins { plugin dpdk_plugin.so { disable } }"),
        "{conf}"
    );
    assert!(conf.contains("cpu { main-core 0 }"), "{conf}");
    assert!(!conf.contains("dpdk {"), "{conf}");
}

#[test]
fn vpp_startup_with_hugepages_keeps_vpps_default_pages() {
    let (pod, _host, _) = memif_pod();
    let out = vpp_startup(&pod, "cgroup-v2-pod", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf = text(&out.stdout);
    assert!(conf.contains("memory { main-heap-size 256M }"), "{conf}");
    assert!(!conf.contains("4k"), "{conf}");
}
