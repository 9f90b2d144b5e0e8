//! Test support for the workspace's tests (dev-dependency only): a DPDK process driven
//! through testpmd's interactive prompt, the prerequisites check, DPDK's runtime files, a
//! private OVS ([`ovs`]) and the environment of an in-process CNI call.
#![allow(clippy::unwrap_used)]

pub mod ovn;
pub mod ovs;
mod process;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// What a DPDK test needs besides dpdk-testpmd.
#[derive(Debug, Clone, Copy, Default)]
pub struct DpdkNeeds<'a> {
    /// Other programs, with the Debian package that has each.
    pub programs: &'a [(&'a str, &'a str)],
    /// Free 2 MiB hugepages on a mounted hugetlbfs, if any are needed.
    pub hugepages: Option<u64>,
}

/// Fails (never skips) with a message naming what to install, unless the documented opt-out
/// `USERSPACE_TESTS_NO_DPDK=1` is set by a contributor without root.
///
/// Tests that start DPDK busy-poll the machine's CPUs, so they take a process-wide lock: the
/// returned guard serialises them while the rest of the suite runs in parallel.
pub fn require_dpdk(needs: DpdkNeeds<'_>) -> Option<MutexGuard<'static, ()>> {
    static DPDK: Mutex<()> = Mutex::new(());
    if std::env::var_os("USERSPACE_TESTS_NO_DPDK").is_some_and(|v| v == "1") {
        eprintln!("USERSPACE_TESTS_NO_DPDK=1: skipping a test that runs DPDK");
        return None;
    }
    for (program, package) in [("dpdk-testpmd", "dpdk-dev")].iter().chain(needs.programs) {
        assert!(
            which::which(program).is_ok(),
            "{program} is not installed: run `bash scripts/setup-host.sh` (apt-get install {package})"
        );
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs DPDK and must run as root"
    );
    if let Some(want) = needs.hugepages {
        let free =
            std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(0);
        let mounted = std::fs::read_to_string("/proc/self/mountinfo")
            .map(|m| m.lines().any(|l| l.contains(" - hugetlbfs ")))
            .unwrap_or(false);
        assert!(
            mounted && free >= want,
            "needs a hugetlbfs mount and >= {want} free 2 MiB hugepages (have {free}): run `bash scripts/setup-host.sh`"
        );
    }
    Some(DPDK.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// A DPDK process (testpmd, or a program with testpmd's prompt or none) with its stdin and
/// its collected stdout and stderr; killed, and its runtime files removed, on drop.
pub struct Testpmd {
    /// The name its messages carry.
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    // stdout and stderr apart: interleaved, a log line on stderr can split the prompt.
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    // The threads collecting them: joined once the process is gone, so its output is whole.
    readers: Vec<thread::JoinHandle<()>>,
    prefixes: Vec<String>,
}

impl Testpmd {
    /// Starts `stdbuf -oL program args…`; `prefix` is the EAL file prefix to clean up.
    /// testpmd's printf output to a pipe is block-buffered while its prompt is written
    /// directly; stdbuf makes stdout line-buffered (it survives the agent's exec).
    pub fn spawn(name: &str, program: &str, args: &[String], prefix: Option<&str>) -> Self {
        let mut cmd = Command::new("stdbuf");
        cmd.arg("-oL").arg(program).args(args);
        Self::spawn_command(name, &mut cmd, prefix.as_slice())
    }

    /// Starts `cmd` with piped stdio; `prefixes` are the EAL file prefixes to clean up.
    pub fn spawn_command(name: &str, cmd: &mut Command, prefixes: &[&str]) -> Self {
        eprintln!("[{name}] {cmd:?}");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for (mut stream, out) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
                out.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), err.clone()),
        ] {
            readers.push(thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        let stdin = child.stdin.take();
        Self {
            name: name.into(),
            child,
            stdin,
            out,
            err,
            readers,
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    /// stdout, then stderr (each in order; not interleaved).
    pub fn output(&self) -> String {
        format!(
            "{}\n{}",
            self.stdout(),
            strip_ansi(&self.err.lock().unwrap())
        )
    }

    /// stdout alone (the prompt and the statistics).
    pub fn stdout(&self) -> String {
        strip_ansi(&self.out.lock().unwrap())
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// Waits until the output contains `needle` `count` times; panics with the output on timeout
    /// or when the process exits first.
    pub fn wait_for(&mut self, needle: &str, count: usize, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.output().matches(needle).count() >= count {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.join_readers();
                panic!(
                    "[{}] exited ({status}) before printing {needle:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "[{}] did not print {needle:?} within {timeout:?}:\n{}",
                self.name,
                self.output()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one command line and waits for the next prompt; returns what it printed.
    pub fn cmd(&mut self, line: &str) -> String {
        let before = self.stdout();
        let prompts = before.matches("testpmd> ").count();
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.wait_for("testpmd> ", prompts + 1, Duration::from_secs(30));
        self.stdout()[before.len()..].to_owned()
    }

    /// One counter of `show port xstats <port>` (`rx_good_packets`, `tx_q1_packets`, …).
    pub fn xstat(&mut self, port: u16, key: &str) -> u64 {
        let text = self.cmd(&format!("show port xstats {port}"));
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == key).then(|| v.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("[{}] no xstat {key} in:\n{text}", self.name))
    }

    /// `show port stats all` → (rx, tx) per port.
    pub fn port_stats(&mut self) -> Vec<(u64, u64)> {
        let before = self.stdout().len();
        self.cmd("show port stats all");
        let text = self.stdout()[before..].to_owned();
        let stats = parse_port_stats(&text);
        assert!(
            !stats.is_empty(),
            "[{}] no port statistics in:\n{}",
            self.name,
            self.output()
        );
        stats
    }

    /// Polls `show port stats all` until `done` holds for the (rx, tx) counters; panics with
    /// the last ones after `timeout`. Counters are read as soon as they are right, and a
    /// count that overshoots still fails the exact assertions that follow.
    pub fn stats_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[(u64, u64)]) -> bool,
    ) -> Vec<(u64, u64)> {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.port_stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] {what} not reached within {timeout:?}: (rx, tx) per port {stats:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `show port info <port>` until its link is up (or down); panics after `timeout`.
    ///
    /// When the switch dropped the vhost-user connection during testpmd's own start-up
    /// (seen in CI: "Connection reset by peer", then "Fail to start port 0"), virtio_user
    /// takes the reconnection but testpmd never retries the start: waiting for up, the port
    /// is started again once, as an operator would, and that is said.
    pub fn wait_link(&mut self, port: u16, up: bool, timeout: Duration) {
        let want = if up {
            "Link status: up"
        } else {
            "Link status: down"
        };
        let failed = format!("Fail to start port {port}");
        let mut restarted = false;
        let deadline = Instant::now() + timeout;
        loop {
            if self.cmd(&format!("show port info {port}")).contains(want) {
                return;
            }
            if up && !restarted && self.output().contains(&failed) {
                eprintln!(
                    "[{}] the switch reset the connection while testpmd started port {port}: \
                     starting it again",
                    self.name
                );
                self.cmd(&format!("port start {port}"));
                restarted = true;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] port {port}: no {want:?} within {timeout:?}:\n{}",
                self.name,
                self.output()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(&mut self) -> i32 {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.wait_exit()
    }

    /// `quit` on the prompt (stdin is closed after it) and the exit code.
    pub fn quit_code(&mut self) -> i32 {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "quit");
        }
        self.wait_exit()
    }

    /// `quit`, then a clean exit; the whole output.
    pub fn quit(mut self) -> String {
        let code = self.quit_code();
        let out = self.output();
        assert!(code == 0, "[{}] exited with {code}:\n{out}", self.name);
        out
    }

    /// Waits (30 s at the most) for the exit code; the output is whole afterwards.
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.join_readers();
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "[{}] did not exit:\n{}",
                self.name,
                self.output()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Testpmd {
    fn drop(&mut self) {
        // A prompt is asked to quit first: testpmd then closes its ports (and a vhost-user
        // peer sees the device go) before it is killed.
        if self.stdout().contains("testpmd> ")
            && let Some(mut stdin) = self.stdin.take()
        {
            let _ = writeln!(stdin, "quit");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in &self.prefixes {
            remove_runtime_files(p);
        }
    }
}

/// The `CNI_*` variables a runtime sets for one verb, as a map for calling the plugin
/// in-process (`userspace_plugin::run`); the network namespace is the test's own.
pub fn cni_vars(verb: &str, id: &str, ifname: &str, args: &str) -> BTreeMap<String, String> {
    [
        ("CNI_COMMAND", verb),
        ("CNI_CONTAINERID", id),
        ("CNI_IFNAME", ifname),
        ("CNI_NETNS", "/proc/self/ns/net"),
        ("CNI_PATH", "/usr/lib/cni"),
        ("CNI_ARGS", args),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The workspace's `userspace-agent` beside the running test's binary (`target/<profile>/`);
/// fails with what to run when it has not been built.
pub fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("userspace-agent");
    assert!(
        bin.exists(),
        "no {}: run `cargo build --workspace` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A pod's testpmd as `userspace-agent testpmd` builds it from what the plugin published
/// (`shared_dir`: the pod's view of its shared directory), interactive, receiving, without
/// hugepages, its lcores on `cpu`; `extra` goes to testpmd after `--`.
pub fn agent_testpmd(
    agent: &Path,
    cpu: &str,
    podinfo: &Path,
    container_id: &str,
    shared_dir: &Path,
    prefix: &str,
    extra: &[String],
) -> Command {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", cpu, "stdbuf", "-oL"])
        .arg(agent)
        .env("USERSPACE_PODINFO", podinfo)
        .env("USERSPACE_CONTAINER_ID", container_id)
        .env("USERSPACE_SHARED_DIR", shared_dir)
        .env_remove("USERSPACE_DPDK_VERSION")
        .env_remove("USERSPACE_PROC_ROOT")
        .env_remove("USERSPACE_SYS_ROOT")
        .args([
            "-v",
            "testpmd",
            "-i",
            "--forward-mode",
            "rxonly",
            "--huge",
            "no",
            "--memory-mb",
            "256",
        ])
        .arg(format!("--file-prefix={prefix}"))
        .args(["--", "--rxd=1024", "--txd=1024"])
        .args(extra);
    cmd
}

/// What DPDK leaves for a file prefix: `/dev/hugepages/<prefix>*` and
/// `/var/run/dpdk/<prefix>*`.
pub fn runtime_files(prefix: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["/dev/hugepages", "/var/run/dpdk"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(prefix) {
                    v.push(e.path());
                }
            }
        }
    }
    v
}

/// Removes [`runtime_files`].
pub fn remove_runtime_files(prefix: &str) {
    for p in runtime_files(prefix) {
        let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
    }
}

/// Output without ANSI escape sequences (testpmd colours its prompt on some builds).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses testpmd's `show port stats all`: one (RX-packets, TX-packets) per port block.
pub fn parse_port_stats(text: &str) -> Vec<(u64, u64)> {
    let field = |block: &str, key: &str| -> u64 {
        block
            .split(key)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {block}"))
    };
    text.split("NIC statistics for port")
        .skip(1)
        .map(|b| (field(b, "RX-packets:"), field(b, "TX-packets:")))
        .collect()
}
