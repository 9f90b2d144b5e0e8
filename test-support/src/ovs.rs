//! A private Open vSwitch under a temporary directory: `ovsdb-server` alone (for tests of
//! what is in OVSDB) or with a DPDK `ovs-vswitchd` (main thread on CPU 0, one PMD on CPU 1).
//! Both are stopped, and DPDK's runtime files removed, on drop. `ovs-vsctl` is the
//! independent oracle of what is in OVSDB.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// A private OVS.
pub struct Ovs {
    dir: tempfile::TempDir,
    prefix: String,
    dpdk: bool,
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Ovs {
    /// `ovsdb-server` only, initialised; [`Self::vsctl`] adds `--no-wait` against it.
    pub fn start_db(name: &str) -> Self {
        for program in ["ovsdb-tool", "ovsdb-server", "ovs-vsctl"] {
            assert!(
                which::which(program).is_ok(),
                "{program} is not installed: run `bash scripts/setup-host.sh` (apt-get install openvswitch-switch-dpdk)"
            );
        }
        // Short: a unix socket path is limited to 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix(name)
            .tempdir_in("/tmp")
            .unwrap();
        let ovs = Self {
            dir,
            prefix: format!("{name}{}", std::process::id()),
            dpdk: false,
        };
        let d = ovs.dir.path().display().to_string();
        run_ok(ovs.cmd("ovsdb-tool").args([
            "create",
            &format!("{d}/conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ]));
        ovs.start_ovsdb_server();
        // Seen under load: the detached server's socket refused the first connection.
        let start = Instant::now();
        loop {
            let out = ovs.vsctl(&["--no-wait", "init"]).output().unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ovs-vsctl init against the new ovsdb-server failed for 10 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            thread::sleep(Duration::from_millis(50));
        }
        ovs
    }

    /// Starts `ovsdb-server` on the database (again, after [`Self::stop_ovsdb_server`]).
    pub fn start_ovsdb_server(&self) {
        let d = self.dir.path().display().to_string();
        run_ok(self.cmd("ovsdb-server").args([
            &format!("{d}/conf.db"),
            &format!("--remote=punix:{d}/db.sock"),
            &format!("--pidfile={d}/ovsdb-server.pid"),
            &format!("--unixctl={d}/ovsdb-server.ctl"),
            &format!("--log-file={d}/ovsdb-server.log"),
            "--detach",
        ]));
    }

    /// Stops `ovsdb-server` and waits until it is gone.
    pub fn stop_ovsdb_server(&self) {
        self.stop("ovsdb-server");
    }

    /// `ovsdb-server` and a DPDK `ovs-vswitchd` with DPDK initialised.
    pub fn start_dpdk(name: &str) -> Self {
        let mut ovs = Self::start_db(name);
        ovs.dpdk = true;
        let d = ovs.dir.path().display().to_string();
        run_ok(Command::new("update-alternatives").args([
            "--set",
            "ovs-vswitchd",
            "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
        ]));
        run_ok(&mut ovs.vsctl(&[
            "--no-wait",
            "set",
            "Open_vSwitch",
            ".",
            "other_config:dpdk-init=true",
            "other_config:dpdk-socket-mem=512",
            "other_config:dpdk-lcore-mask=0x1",
            "other_config:pmd-cpu-mask=0x2",
            &format!(
                "other_config:dpdk-extra=--no-pci --file-prefix={}",
                ovs.prefix
            ),
        ]));
        run_ok(ovs.cmd("ovs-vswitchd").args([
            &format!("unix:{d}/db.sock"),
            &format!("--pidfile={d}/ovs-vswitchd.pid"),
            &format!("--unixctl={d}/ovs-vswitchd.ctl"),
            &format!("--log-file={d}/ovs-vswitchd.log"),
            "--detach",
        ]));
        let start = Instant::now();
        while ovs
            .vsctl(&["--no-wait", "get", "Open_vSwitch", ".", "dpdk_initialized"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() != "true")
            .unwrap_or(true)
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "ovs-vswitchd did not initialise DPDK:\n{}",
                ovs.log()
            );
            thread::sleep(Duration::from_millis(200));
        }
        ovs
    }

    /// `unix:<db.sock>`.
    pub fn endpoint(&self) -> String {
        format!("unix:{}/db.sock", self.dir.path().display())
    }

    /// A command with OVS's run, log and db directories pointed at this instance.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let d = self.dir.path();
        c.env("OVS_RUNDIR", d)
            .env("OVS_LOGDIR", d)
            .env("OVS_DBDIR", d);
        c
    }

    /// `ovs-vsctl --db=<this> args…`. Without ovs-vswitchd it is `--no-wait` (nothing would
    /// ever confirm a change) and `--timeout=10` (a wedged server fails the test, not hangs it).
    pub fn vsctl(&self, args: &[&str]) -> Command {
        let mut c = self.cmd("ovs-vsctl");
        c.arg(format!("--db={}", self.endpoint()));
        if !self.dpdk {
            c.args(["--no-wait", "--timeout=10"]);
        }
        c.args(args);
        c
    }

    /// Runs `ovs-vsctl` and returns its stdout; panics when it fails.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.vsctl(args))
    }

    /// Adds a userspace (`netdev`) bridge, as an operator makes one for OVS-DPDK.
    pub fn add_netdev_bridge(&self, name: &str) {
        self.vsctl_ok(&[
            "add-br",
            name,
            "--",
            "set",
            "Bridge",
            name,
            "datapath_type=netdev",
        ]);
    }

    /// The ports of `bridge`, sorted.
    pub fn ports(&self, bridge: &str) -> Vec<String> {
        sorted_lines(&self.vsctl_ok(&["list-ports", bridge]))
    }

    /// The bridges, sorted.
    pub fn bridges(&self) -> Vec<String> {
        sorted_lines(&self.vsctl_ok(&["list-br"]))
    }

    /// How many rows `table` has.
    pub fn rows(&self, table: &str) -> usize {
        self.vsctl_ok(&["--columns=_uuid", "list", table])
            .lines()
            .filter(|l| l.starts_with("_uuid"))
            .count()
    }

    /// `ovs-appctl --target=<ovs-vswitchd's control socket> args…`; stdout, panics on failure.
    pub fn appctl(&self, args: &[&str]) -> String {
        let ctl = self.dir.path().join("ovs-vswitchd.ctl");
        run_ok(
            self.cmd("ovs-appctl")
                .arg(format!("--target={}", ctl.display()))
                .args(args),
        )
    }

    /// ovs-vswitchd's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ovs-vswitchd.log")).unwrap_or_default()
    }

    /// SIGTERM, and a wait (10 s at the most) until every thread is gone: a zombie counts
    /// as gone, or a daemon nobody reaps would hold up every drop.
    fn stop(&self, program: &str) {
        if let Some(pid) = crate::process::read_pid(&self.dir.path().join(format!("{program}.pid")))
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
            crate::process::wait_dead(pid, Duration::from_secs(10));
        }
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        if self.dpdk && thread::panicking() {
            eprintln!("ovs-vswitchd.log:\n{}", self.log());
        }
        self.stop("ovs-vswitchd");
        self.stop("ovsdb-server");
        // Only DPDK leaves runtime files, and a prefix (name and pid) is not unique: a
        // db-only instance must not remove those of a DPDK one of the same name.
        if self.dpdk {
            crate::remove_runtime_files(&self.prefix);
        }
    }
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}
