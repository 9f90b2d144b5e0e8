//! Two OVN nodes with OVS-DPDK on this one machine, for tests that need a real cluster:
//! OVN central (NB and SB `ovsdb-server`, `ovn-northd`) in the root network namespace, and
//! two "nodes", each a network namespace with its own `ovsdb-server`, DPDK `ovs-vswitchd`
//! and `ovn-controller`, joined by a veth "wire" that carries their Geneve tunnel.
//!
//! The fixture makes no logical switch and no port: each node's `br-int` (netdev,
//! `fail_mode=secure`) is empty but for the tunnel, so a test (or the CNI plugin under
//! test) adds `dpdkvhostuserclient` ports with `external_ids:iface-id` itself.
//!
//! Every daemon has its pidfile, control socket and log under one temporary directory, so
//! nothing touches `/var/run/openvswitch` or `/var/run/ovn`. Dropped (or [`OvnCluster::teardown`]),
//! it stops them all and removes the namespaces, DPDK's runtime files and the directory.
//!
//! "Gotcha N" below refers to the notes of the rig's first manual run on this kind of machine
//! (`ovn-two-nodes.md` in the team's shared reference), where each was seen and solved.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{kill, processes_with, read_pid, wait_dead};

/// How long any one step (a daemon's start, a registration, a binding) may take. Generous:
/// the machine is shared with builds, and DPDK without hugepages starts in seconds.
const STEP: Duration = Duration::from_secs(60);

/// The two nodes' wire: node A's and node B's encapsulation (tunnel endpoint) addresses.
const ENCAP_IPS: [&str; 2] = ["172.31.250.1", "172.31.250.2"];

/// A command's stdout, or what it said when it failed (or could not start).
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn run_ok(cmd: &mut Command) -> String {
    run(cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `ready` every 100 ms until it holds; panics with `what` and `detail()` after `timeout`.
fn wait_until(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < timeout,
            "{what}: not within {timeout:?}\n{}",
            detail()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// One node: a network namespace with `ovsdb-server`, DPDK `ovs-vswitchd` and
/// `ovn-controller`, all with their files in [`OvnNode::run_dir`].
pub struct OvnNode {
    /// "A" or "B".
    label: &'static str,
    netns: String,
    system_id: String,
    dir: PathBuf,
    prefix: String,
    cpu_mask: &'static str,
    encap_ip: &'static str,
    peer_ip: &'static str,
    nb: String,
    sb: String,
    /// The peer node's `Open_vSwitch` database, to see its tunnel to this node.
    peer_db: String,
}

impl OvnNode {
    /// "A" or "B", as messages name the node.
    pub fn label(&self) -> &str {
        self.label
    }

    /// `unix:<run dir>/db.sock`: this node's `Open_vSwitch` database (the plugin's `ovsdbSocket`).
    pub fn ovsdb_endpoint(&self) -> String {
        format!("unix:{}/db.sock", self.dir.display())
    }

    /// The chassis name (`external_ids:system-id`), e.g. `nodeA12345`: what an LSP's
    /// `requested-chassis` names.
    pub fn system_id(&self) -> &str {
        &self.system_id
    }

    /// The network namespace the daemons run in.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The directory with this node's sockets, pidfiles and logs; vhost-user sockets may go
    /// here too (it is removed with the cluster).
    pub fn run_dir(&self) -> &Path {
        &self.dir
    }

    /// The node's tunnel endpoint address (on `br-phy`, inside [`OvnNode::netns`]).
    pub fn encap_ip(&self) -> &str {
        self.encap_ip
    }

    /// DPDK's `--file-prefix` for this node's `ovs-vswitchd`.
    pub fn dpdk_prefix(&self) -> &str {
        &self.prefix
    }

    /// A command with OVS's and OVN's run, log and db directories pointed at this node.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        for var in [
            "OVS_RUNDIR",
            "OVS_LOGDIR",
            "OVS_DBDIR",
            "OVN_RUNDIR",
            "OVN_LOGDIR",
            "OVN_DBDIR",
        ] {
            c.env(var, &self.dir);
        }
        c
    }

    /// [`OvnNode::cmd`], run inside the node's namespace (the daemons need to be: they use
    /// its routes, its `br-phy` tap and its veth).
    fn netns_cmd(&self, program: &str) -> Command {
        let mut c = self.cmd("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }

    /// `ovs-vsctl --db=<this node> args…`: stdout, or the failure.
    pub fn try_vsctl(&self, args: &[&str]) -> Result<String, String> {
        run(self
            .cmd("ovs-vsctl")
            .arg(format!("--db={}", self.ovsdb_endpoint()))
            .arg("--timeout=30")
            .args(args))
    }

    /// `ovs-vsctl --db=<this node> args…`: stdout; panics when it fails.
    pub fn vsctl(&self, args: &[&str]) -> String {
        self.try_vsctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ovs-appctl` to this node's `ovs-vswitchd`: stdout, or the failure.
    pub fn try_appctl(&self, args: &[&str]) -> Result<String, String> {
        run(self
            .cmd("ovs-appctl")
            .arg(format!(
                "--target={}",
                self.path("ovs-vswitchd.ctl").display()
            ))
            .arg("--timeout=10")
            .args(args))
    }

    /// `ovs-appctl` to this node's `ovs-vswitchd`: stdout; panics when it fails.
    pub fn appctl(&self, args: &[&str]) -> String {
        self.try_appctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ovn-appctl` to this node's `ovn-controller` (its socket carries its pid: 23.03 has
    /// no `--unixctl`): stdout; panics when it fails.
    pub fn controller_appctl(&self, args: &[&str]) -> String {
        let ctl = self.controller_ctl().expect("ovn-controller runs");
        run_ok(
            self.cmd("ovn-appctl")
                .arg(format!("--target={}", ctl.display()))
                .arg("--timeout=10")
                .args(args),
        )
    }

    /// A log of this node: `ovs-vswitchd`, `ovn-controller` or `ovsdb-server`.
    pub fn log(&self, daemon: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{daemon}.log"))).unwrap_or_default()
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn controller_ctl(&self) -> Option<PathBuf> {
        read_pid(&self.path("ovn-controller.pid"))
            .map(|pid| self.path(&format!("ovn-controller.{pid}.ctl")))
    }

    fn start_ovsdb(&self) {
        let d = self.dir.display();
        run_ok(self.cmd("ovsdb-tool").args([
            "create",
            &format!("{d}/conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ]));
        run_ok(self.netns_cmd("ovsdb-server").args([
            &format!("{d}/conf.db"),
            &format!("--remote=punix:{d}/db.sock"),
            "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
            &format!("--pidfile={d}/ovsdb-server.pid"),
            &format!("--unixctl={d}/ovsdb-server.ctl"),
            &format!("--log-file={d}/ovsdb-server.log"),
            "--detach",
            "--no-chdir",
            "-vconsole:off",
        ]));
        // Before ovs-vswitchd runs, ovs-vsctl must not wait for it.
        self.vsctl(&["--no-wait", "init"]);
        self.vsctl(&[
            "--no-wait",
            "set",
            "Open_vSwitch",
            ".",
            "other_config:dpdk-init=true",
            &format!("other_config:pmd-cpu-mask={}", self.cpu_mask),
            // Load-based PMD sleep: two PMDs, two pods and the builds share two CPUs.
            "other_config:pmd-maxsleep=1000",
            // No hugepages: two switches would take all of the machine's, which other
            // tests share. The price is a slower restart (gotcha 7).
            &format!(
                "other_config:dpdk-extra=--no-pci --no-huge --legacy-mem -m 1024 --file-prefix={}",
                self.prefix
            ),
            &format!("external_ids:system-id={}", self.system_id),
            &format!("external_ids:hostname={}", self.system_id),
            &format!("external_ids:ovn-remote={}", self.sb),
            "external_ids:ovn-encap-type=geneve",
            &format!("external_ids:ovn-encap-ip={}", self.encap_ip),
            "external_ids:ovn-bridge=br-int",
            "external_ids:ovn-bridge-datapath-type=netdev",
        ]);
        self.vsctl(&[
            "--no-wait",
            "add-br",
            "br-int",
            "--",
            "set",
            "Bridge",
            "br-int",
            "datapath_type=netdev",
            "fail_mode=secure",
        ]);
        // A fixed MAC: the peer caches it as the tunnel neighbour, and a restart keeps it.
        let hwaddr = format!("other_config:hwaddr=02:00:00:fa:00:0{}", self.index() + 1);
        self.vsctl(&[
            "--no-wait",
            "add-br",
            "br-phy",
            "--",
            "set",
            "Bridge",
            "br-phy",
            "datapath_type=netdev",
            &hwaddr,
        ]);
        self.vsctl(&["--no-wait", "add-port", "br-phy", &self.veth()]);
    }

    fn index(&self) -> usize {
        usize::from(self.label == "B")
    }

    fn veth(&self) -> String {
        format!("eth{}", self.label)
    }

    fn start_vswitchd(&self) {
        let d = self.dir.display();
        run_ok(self.netns_cmd("ovs-vswitchd").args([
            &format!("unix:{d}/db.sock"),
            &format!("--pidfile={d}/ovs-vswitchd.pid"),
            &format!("--unixctl={d}/ovs-vswitchd.ctl"),
            &format!("--log-file={d}/ovs-vswitchd.log"),
            "--detach",
            "--no-chdir",
            "-vconsole:off",
        ]));
    }

    fn start_controller(&self) {
        let d = self.dir.display();
        run_ok(self.netns_cmd("ovn-controller").args([
            &format!("unix:{d}/db.sock"),
            &format!("--pidfile={d}/ovn-controller.pid"),
            &format!("--log-file={d}/ovn-controller.log"),
            "--detach",
            "--no-chdir",
            "-vconsole:off",
        ]));
    }

    /// Waits until this `ovs-vswitchd` has DPDK up and `br-phy` carries the node's address.
    fn wait_vswitchd_up(&self) {
        wait_until(
            &format!("node {}: ovs-vswitchd with DPDK and br-int", self.label),
            STEP,
            || {
                self.try_appctl(&["dpif/show"])
                    .is_ok_and(|s| s.contains("br-int") && s.contains("br-phy"))
            },
            || self.log("ovs-vswitchd"),
        );
        assert_eq!(
            self.vsctl(&["get", "Bridge", "br-int", "datapath_type"]),
            "netdev"
        );
    }

    /// Gives `br-phy`'s tap (made by `ovs-vswitchd`) the node's address; survives restarts.
    fn address_br_phy(&self) {
        let addr = format!("{}/24", self.encap_ip);
        let have = run_ok(Command::new("ip").args([
            "-n",
            &self.netns,
            "-o",
            "addr",
            "show",
            "dev",
            "br-phy",
        ]));
        if !have.contains(&addr) {
            run_ok(Command::new("ip").args([
                "-n",
                &self.netns,
                "addr",
                "add",
                &addr,
                "dev",
                "br-phy",
            ]));
        }
        run_ok(Command::new("ip").args(["-n", &self.netns, "link", "set", "br-phy", "up"]));
    }

    /// The names of `br-int`'s ports in the OVS database.
    pub fn br_int_ports(&self) -> Vec<String> {
        self.vsctl(&["list-ports", "br-int"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The running switch's own view (not the database's, which can be stale after a
    /// restart: gotcha 6): whether every port of `br-int` is in its datapath.
    fn datapath_has(&self, ports: &[String]) -> bool {
        let Ok(show) = self.try_appctl(&["dpif/show"]) else {
            return false;
        };
        let present: Vec<&str> = show
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        ports.iter().all(|p| present.contains(&p.as_str()))
    }

    /// `br-int`'s OpenFlow rule count, asked of the running switch.
    fn flow_count(&self) -> Option<u64> {
        let mgmt = format!("unix:{}", self.path("br-int.mgmt").display());
        run(self
            .cmd("ovs-ofctl")
            .args(["--timeout=5", "dump-aggregate", &mgmt]))
        .ok()?
        .split("flow_count=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
    }
}

/// Whether the switch with database `db` has a Geneve tunnel to `remote_ip` with an
/// OpenFlow port.
fn has_tunnel(db: &str, remote_ip: &str) -> bool {
    run(Command::new("ovs-vsctl").args([
        &format!("--db={db}"),
        "--timeout=10",
        "--bare",
        "--columns=ofport",
        "find",
        "Interface",
        "type=geneve",
        &format!("options:remote_ip=\"{remote_ip}\""),
    ]))
    .is_ok_and(|s| s.parse::<i64>().is_ok_and(|p| p > 0))
}

impl OvnNode {
    /// `ovs-vswitchd` is asked to exit; once every thread of it is gone (DPDK's files are
    /// free then: gotcha 7) it starts again. Returns when the running switch has every
    /// `br-int` port back and `ovn-controller` has put back at least as many flows as there
    /// were. A pod's vhost-user link comes back by itself (see [`OvnNode::wait_port_polled`]);
    /// the tunnel neighbour is forgotten until [`OvnNode::warm_up`].
    pub fn restart_vswitchd(&self) {
        let ports = self.br_int_ports();
        let flows = self.flow_count().unwrap_or(0);
        let pid = read_pid(&self.path("ovs-vswitchd.pid")).expect("ovs-vswitchd runs");
        let _ = self.try_appctl(&["exit"]);
        if !wait_dead(pid, Duration::from_secs(30)) {
            eprintln!("node {}: ovs-vswitchd ignored exit: killing it", self.label);
            kill(pid);
        }
        self.start_vswitchd();
        self.wait_vswitchd_up();
        self.address_br_phy();
        wait_until(
            &format!("node {}: br-int ports {ports:?} back", self.label),
            STEP,
            || self.datapath_has(&ports),
            || self.appctl(&["dpif/show"]),
        );
        wait_until(
            &format!("node {}: {flows} OpenFlow rules back on br-int", self.label),
            STEP,
            || self.flow_count().is_some_and(|n| n >= flows),
            || self.log("ovn-controller"),
        );
    }

    /// `ovn-controller` is asked to exit (it removes its chassis), started again, and
    /// awaited: chassis and encap registered, tunnels both ways, this node's ports bound
    /// again, and every chassis caught up with the logical flows (`ovn-nbctl --wait=hv`).
    pub fn restart_controller(&self) {
        let pid = read_pid(&self.path("ovn-controller.pid")).expect("ovn-controller runs");
        self.controller_appctl(&["exit"]);
        if !wait_dead(pid, Duration::from_secs(30)) {
            eprintln!(
                "node {}: ovn-controller ignored exit: killing it",
                self.label
            );
            kill(pid);
        }
        self.start_controller();
        self.wait_registered();
        self.wait_bound();
        run_ok(Command::new("ovn-nbctl").args([
            &format!("--db={}", self.nb),
            "--timeout=60",
            "--wait=hv",
            "sync",
        ]));
    }

    /// Waits until the SB has this chassis with its Geneve encap and both nodes' `br-int`
    /// have their tunnel to the other.
    pub fn wait_registered(&self) {
        wait_until(
            &format!("chassis {} registered", self.system_id),
            STEP,
            || {
                run(Command::new("ovn-sbctl").args([
                    &format!("--db={}", self.sb),
                    "--bare",
                    "--columns=ip",
                    "find",
                    "Encap",
                    &format!("chassis_name={}", self.system_id),
                ]))
                .is_ok_and(|ip| ip == self.encap_ip)
                    && has_tunnel(&self.ovsdb_endpoint(), self.peer_ip)
                    && has_tunnel(&self.peer_db, self.encap_ip)
            },
            || self.log("ovn-controller"),
        );
    }

    /// Waits until every `br-int` interface with an `iface-id` is bound to this chassis and
    /// up in the SB, with `ovn-installed` set.
    pub fn wait_bound(&self) {
        let ifaces = self.vsctl(&["--bare", "--columns=name", "list", "Interface"]);
        for iface in ifaces.split_whitespace() {
            let lsp = self.vsctl(&[
                "--if-exists",
                "get",
                "Interface",
                iface,
                "external_ids:iface-id",
            ]);
            let lsp = lsp.trim_matches('"').to_owned();
            if lsp.is_empty() {
                continue;
            }
            wait_until(
                &format!("{lsp} bound to {} and up", self.system_id),
                STEP,
                || {
                    let bound = run(Command::new("ovn-sbctl").args([
                        &format!("--db={}", self.sb),
                        "--bare",
                        "--columns=chassis,up",
                        "find",
                        "Port_Binding",
                        &format!("logical_port=\"{lsp}\""),
                    ]))
                    .unwrap_or_default();
                    let chassis = run(Command::new("ovn-sbctl").args([
                        &format!("--db={}", self.sb),
                        "--bare",
                        "--columns=_uuid",
                        "find",
                        "Chassis",
                        &format!("name={}", self.system_id),
                    ]))
                    .unwrap_or_default();
                    !chassis.is_empty() && bound.contains(&chassis) && bound.contains("true")
                },
                || self.log("ovn-controller"),
            );
            self.wait_ovn_installed(iface);
        }
    }

    /// Waits until `ovn-controller` has put the flows for `iface` in
    /// (`Interface.external_ids:ovn-installed`, what a CNI ADD waits for).
    pub fn wait_ovn_installed(&self, iface: &str) {
        wait_until(
            &format!("{iface} ovn-installed on node {}", self.label),
            STEP,
            || {
                self.try_vsctl(&[
                    "--if-exists",
                    "get",
                    "Interface",
                    iface,
                    "external_ids:ovn-installed",
                ])
                .is_ok_and(|v| v == "\"true\"")
            },
            || self.log("ovn-controller"),
        );
    }

    /// Waits until the running switch polls `port`'s rx queue with the vhost-user device
    /// connected (`dpif-netdev/pmd-rxq-show`: `(enabled)`); the database's `link_state` can
    /// stay stale after a restart (gotcha 6).
    pub fn wait_port_polled(&self, port: &str) {
        wait_until(
            &format!("node {}: {port} polled and enabled", self.label),
            STEP,
            || {
                self.try_appctl(&["dpif-netdev/pmd-rxq-show"])
                    .is_ok_and(|s| {
                        s.lines().any(|l| {
                            l.split_whitespace().nth(1) == Some(port) && l.contains("(enabled)")
                        })
                    })
            },
            || self.log("ovs-vswitchd"),
        );
    }

    /// Pings the peer's tunnel endpoint from this node's namespace until the running switch
    /// has it in its tunnel-neighbour cache: until then the first tunnelled frames after a
    /// (re)start are dropped (gotcha 4), so call this before counting packets.
    pub fn warm_up(&self) {
        wait_until(
            &format!(
                "node {}: tunnel neighbour {} resolved",
                self.label, self.peer_ip
            ),
            STEP,
            || {
                let _ = run(Command::new("ip").args([
                    "netns",
                    "exec",
                    &self.netns,
                    "ping",
                    "-c1",
                    "-W1",
                    "-q",
                    self.peer_ip,
                ]));
                self.try_appctl(&["tnl/neigh/show"]).is_ok_and(|s| {
                    s.lines()
                        .any(|l| l.split_whitespace().next() == Some(self.peer_ip))
                })
            },
            || self.appctl(&["tnl/neigh/show"]),
        );
    }

    /// Stops `ovn-controller`, `ovs-vswitchd` and `ovsdb-server` (in that order: the
    /// controller removes its chassis and needs its database), by control socket, then by
    /// pidfile.
    fn stop(&self) {
        let controller = self.controller_ctl();
        for (pidfile, ctl, program) in [
            ("ovn-controller.pid", controller, "ovn-appctl"),
            (
                "ovs-vswitchd.pid",
                Some(self.path("ovs-vswitchd.ctl")),
                "ovs-appctl",
            ),
            (
                "ovsdb-server.pid",
                Some(self.path("ovsdb-server.ctl")),
                "ovs-appctl",
            ),
        ] {
            stop_daemon(&self.path(pidfile), ctl.as_deref(), program);
        }
    }
}

/// Asks a daemon to exit through its control socket, waits until every thread is gone, and
/// kills it by its pidfile if it does not go.
fn stop_daemon(pidfile: &Path, ctl: Option<&Path>, appctl: &str) {
    let Some(pid) = read_pid(pidfile) else {
        return;
    };
    if let Some(ctl) = ctl {
        let _ = run(Command::new(appctl).args([
            &format!("--target={}", ctl.display()),
            "--timeout=5",
            "exit",
        ]));
    }
    if !wait_dead(pid, Duration::from_secs(15)) {
        eprintln!("{}: pid {pid} ignored exit: killing it", pidfile.display());
        kill(pid);
    }
}

/// OVN central and two nodes; see the module's documentation.
pub struct OvnCluster {
    dir: Option<tempfile::TempDir>,
    /// `usovn<pid>` (plus a counter after the first cluster in a process): the prefix of
    /// every name this cluster makes.
    name: String,
    dir_path: PathBuf,
    nb_tcp_port: u16,
    nodes: [OvnNode; 2],
    torn_down: bool,
}

impl OvnCluster {
    /// Starts central and both nodes and returns once both chassis are registered with
    /// tunnels to each other and both tunnel neighbours are resolved. Needs root, the DPDK
    /// build of `ovs-vswitchd` and OVN (`scripts/setup-host.sh`); see
    /// [`crate::require_dpdk`].
    pub fn start() -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = match n {
            0 => format!("usovn{}", std::process::id()),
            n => format!("usovn{}x{n}", std::process::id()),
        };
        // Detached daemons are orphaned at once; as their subreaper this process can reap
        // them, so none stays a zombie (the container's PID 1 is slow to).
        let _ = nix::sys::prctl::set_child_subreaper(true);
        run_ok(Command::new("update-alternatives").args([
            "--set",
            "ovs-vswitchd",
            "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
        ]));
        let dir = tempfile::Builder::new()
            .prefix(&name)
            .tempdir_in("/tmp")
            .unwrap();
        let dir_path = dir.path().to_owned();
        let nb_tcp_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let central = dir_path.join("central");
        let nb = format!("unix:{}/ovnnb_db.sock", central.display());
        let sb = format!("unix:{}/ovnsb_db.sock", central.display());
        let node = |i: usize| {
            let label = ["A", "B"][i];
            let d = dir_path.join(label);
            std::fs::create_dir_all(&d).unwrap();
            OvnNode {
                label,
                netns: format!("{name}{}", label.to_ascii_lowercase()),
                system_id: format!("node{label}{}", &name["usovn".len()..]),
                dir: d,
                prefix: format!("{name}-{}", label.to_ascii_lowercase()),
                // One PMD per CPU: the two switches do not take turns on one core.
                cpu_mask: ["0x1", "0x2"][i],
                encap_ip: ENCAP_IPS[i],
                peer_ip: ENCAP_IPS[1 - i],
                nb: nb.clone(),
                sb: sb.clone(),
                peer_db: format!("unix:{}/db.sock", dir_path.join(["B", "A"][i]).display()),
            }
        };
        let nodes = [node(0), node(1)];
        let cluster = Self {
            dir: Some(dir),
            name,
            dir_path,
            nb_tcp_port,
            nodes,
            torn_down: false,
        };
        let t = Instant::now();
        cluster.start_central();
        cluster.make_wire();
        for n in &cluster.nodes {
            n.start_ovsdb();
            n.start_vswitchd();
        }
        for n in &cluster.nodes {
            n.wait_vswitchd_up();
            n.address_br_phy();
            n.start_controller();
        }
        cluster.wait_chassis_registered();
        cluster.warm_up();
        eprintln!("[{}] OVN cluster up in {:?}", cluster.name, t.elapsed());
        cluster
    }

    fn central(&self) -> PathBuf {
        self.dir_path.join("central")
    }

    fn start_central(&self) {
        let c = self.central();
        std::fs::create_dir_all(&c).unwrap();
        let c = c.display();
        for (db, schema, table) in [
            ("ovnnb_db", "ovn-nb", "OVN_Northbound,NB_Global"),
            ("ovnsb_db", "ovn-sb", "OVN_Southbound,SB_Global"),
        ] {
            run_ok(Command::new("ovsdb-tool").args([
                "create",
                &format!("{c}/{db}.db"),
                &format!("/usr/share/ovn/{schema}.ovsschema"),
            ]));
            let mut server = Command::new("ovsdb-server");
            server.args([
                &format!("{c}/{db}.db"),
                &format!("--remote=punix:{c}/{db}.sock"),
                &format!("--remote=db:{table},connections"),
                &format!("--pidfile={c}/{db}.pid"),
                &format!("--unixctl={c}/{db}.ctl"),
                &format!("--log-file={c}/{db}.log"),
                "--detach",
                "--no-chdir",
                "-vconsole:off",
            ]);
            if db == "ovnnb_db" {
                server.arg(format!("--remote=ptcp:{}:127.0.0.1", self.nb_tcp_port));
            }
            run_ok(server.env("OVS_RUNDIR", self.central()));
        }
        self.nbctl(&["init"]);
        self.sbctl(&["init"]);
        run_ok(
            Command::new("ovn-northd")
                .env("OVN_RUNDIR", self.central())
                .env("OVS_RUNDIR", self.central())
                .args([
                    &format!("--ovnnb-db={}", self.nb_endpoint()),
                    &format!("--ovnsb-db={}", self.sb_endpoint()),
                    &format!("--pidfile={c}/ovn-northd.pid"),
                    &format!("--unixctl={c}/ovn-northd.ctl"),
                    &format!("--log-file={c}/ovn-northd.log"),
                    "--detach",
                    "--no-chdir",
                    "-vconsole:off",
                ]),
        );
        wait_until(
            "ovn-northd active and NB listening on TCP",
            STEP,
            || {
                run(Command::new("ovn-appctl")
                    .args([&format!("--target={c}/ovn-northd.ctl"), "status"]))
                .is_ok_and(|s| s.contains("active"))
                    && std::net::TcpStream::connect(("127.0.0.1", self.nb_tcp_port)).is_ok()
            },
            || std::fs::read_to_string(self.central().join("ovn-northd.log")).unwrap_or_default(),
        );
    }

    /// The veth between the namespaces, MTU 1600 for Geneve's 58 bytes over a 1500 inner MTU.
    fn make_wire(&self) {
        let [a, b] = &self.nodes;
        for n in &self.nodes {
            run_ok(Command::new("ip").args(["netns", "add", &n.netns]));
        }
        run_ok(Command::new("ip").args([
            "link",
            "add",
            &a.veth(),
            "netns",
            &a.netns,
            "mtu",
            "1600",
            "type",
            "veth",
            "peer",
            "name",
            &b.veth(),
            "netns",
            &b.netns,
            "mtu",
            "1600",
        ]));
        for n in &self.nodes {
            let veth = n.veth();
            run_ok(Command::new("ip").args(["-n", &n.netns, "link", "set", "lo", "up"]));
            run_ok(Command::new("ip").args(["-n", &n.netns, "link", "set", &veth, "up"]));
            // The kernel behind the veth must not answer ARP for br-phy's address with the
            // veth's MAC, or tunnelled frames go to an address nobody decapsulates (gotcha 3).
            run_ok(Command::new("ip").args([
                "netns",
                "exec",
                &n.netns,
                "sysctl",
                "-q",
                "-w",
                &format!("net.ipv4.conf.{veth}.arp_ignore=1"),
                &format!("net.ipv4.conf.{veth}.arp_announce=2"),
                &format!("net.ipv6.conf.{veth}.disable_ipv6=1"),
            ]));
        }
    }

    /// `usovn<pid>`: the start of the name of every namespace, directory and DPDK file
    /// prefix this cluster makes.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `usovn<pid>-<what>`: a DPDK `--file-prefix` for a pod of this cluster, covered by
    /// [`OvnCluster::residue`] and removed by the teardown. (The `-` keeps process 12's
    /// prefixes apart from process 123's.)
    pub fn dpdk_prefix(&self, what: &str) -> String {
        format!("{}-{what}", self.name)
    }

    /// Node A (`i == 0`) or node B (`i == 1`).
    pub fn node(&self, i: usize) -> &OvnNode {
        &self.nodes[i]
    }

    /// Node A.
    pub fn a(&self) -> &OvnNode {
        &self.nodes[0]
    }

    /// Node B.
    pub fn b(&self) -> &OvnNode {
        &self.nodes[1]
    }

    /// `unix:<dir>/central/ovnnb_db.sock`.
    pub fn nb_endpoint(&self) -> String {
        format!("unix:{}/ovnnb_db.sock", self.central().display())
    }

    /// `tcp:127.0.0.1:<port>`: the same NB database over TCP.
    pub fn nb_tcp_endpoint(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.nb_tcp_port)
    }

    /// `unix:<dir>/central/ovnsb_db.sock`.
    pub fn sb_endpoint(&self) -> String {
        format!("unix:{}/ovnsb_db.sock", self.central().display())
    }

    /// `ovn-nbctl --db=<NB> args…`: stdout, or the failure.
    pub fn try_nbctl(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new("ovn-nbctl")
            .env("OVN_RUNDIR", self.central())
            .arg(format!("--db={}", self.nb_endpoint()))
            .arg("--timeout=60")
            .args(args))
    }

    /// `ovn-nbctl --db=<NB> args…`: stdout; panics when it fails.
    pub fn nbctl(&self, args: &[&str]) -> String {
        self.try_nbctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ovn-sbctl --db=<SB> args…`: stdout, or the failure.
    pub fn try_sbctl(&self, args: &[&str]) -> Result<String, String> {
        run(Command::new("ovn-sbctl")
            .env("OVN_RUNDIR", self.central())
            .arg(format!("--db={}", self.sb_endpoint()))
            .arg("--timeout=60")
            .args(args))
    }

    /// `ovn-sbctl --db=<SB> args…`: stdout; panics when it fails.
    pub fn sbctl(&self, args: &[&str]) -> String {
        self.try_sbctl(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits until both chassis are registered with their encaps and each `br-int` has its
    /// tunnel to the other.
    pub fn wait_chassis_registered(&self) {
        for n in &self.nodes {
            n.wait_registered();
        }
    }

    /// Waits until every chassis has caught up with the NB database's current contents
    /// (`ovn-nbctl --wait=hv sync`): the flows for the ports made so far are in.
    pub fn sync(&self) {
        self.nbctl(&["--wait=hv", "sync"]);
    }

    /// [`OvnNode::warm_up`] on both nodes.
    pub fn warm_up(&self) {
        for n in &self.nodes {
            n.warm_up();
        }
    }

    /// The daemons' logs (central's and the nodes'), for a failed test's message.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for (who, path) in [
            ("northd", self.central().join("ovn-northd.log")),
            ("A vswitchd", self.a().path("ovs-vswitchd.log")),
            ("A controller", self.a().path("ovn-controller.log")),
            ("B vswitchd", self.b().path("ovs-vswitchd.log")),
            ("B controller", self.b().path("ovn-controller.log")),
        ] {
            let log = std::fs::read_to_string(path).unwrap_or_default();
            let _ = writeln!(s, "--- {who} ---\n{log}");
        }
        s
    }

    /// What is left of this cluster on the machine, one line each: processes mentioning
    /// its directory, its network namespaces, DPDK runtime files and hugepage files with its
    /// name as prefix, and its directory. Empty after [`OvnCluster::teardown`].
    pub fn residue(&self) -> Vec<String> {
        let mut left = Vec::new();
        for (pid, cmdline) in processes_with(&self.dir_path.display().to_string()) {
            left.push(format!("process {pid}: {cmdline}"));
        }
        for n in &self.nodes {
            if Path::new("/run/netns").join(&n.netns).exists() {
                left.push(format!("network namespace {}", n.netns));
            }
        }
        for f in crate::runtime_files(&self.dpdk_prefix("")) {
            left.push(format!("DPDK file {}", f.display()));
        }
        if self.dir_path.exists() {
            left.push(format!("directory {}", self.dir_path.display()));
        }
        left
    }

    /// Stops every daemon (nodes first: their controllers remove their chassis from the
    /// SB), removes the namespaces (the veth and the taps go with them), DPDK's files and
    /// the directory, and returns [`OvnCluster::residue`].
    pub fn teardown(mut self) -> Vec<String> {
        self.teardown_in_place();
        self.residue()
    }

    fn teardown_in_place(&mut self) {
        if std::mem::replace(&mut self.torn_down, true) {
            return;
        }
        if thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for n in &self.nodes {
            n.stop();
        }
        let c = self.central();
        for daemon in ["ovn-northd", "ovnsb_db", "ovnnb_db"] {
            let appctl = if daemon == "ovn-northd" {
                "ovn-appctl"
            } else {
                "ovs-appctl"
            };
            stop_daemon(
                &c.join(format!("{daemon}.pid")),
                Some(&c.join(format!("{daemon}.ctl"))),
                appctl,
            );
        }
        // Whatever still names the directory (a pod left running, a daemon restarted
        // behind the fixture's back) goes too.
        for (pid, _) in processes_with(&self.dir_path.display().to_string()) {
            kill(pid);
        }
        for n in &self.nodes {
            let _ = run(Command::new("ip").args(["netns", "delete", &n.netns]));
        }
        crate::remove_runtime_files(&self.dpdk_prefix(""));
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

impl Drop for OvnCluster {
    fn drop(&mut self) {
        self.teardown_in_place();
    }
}
