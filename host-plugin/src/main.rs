//! `userspace`: the CNI plugin binary. The runtime's environment and stdin in, one JSON
//! document on stdout, exit code 0 or 1.
//!
//! The entry point is C's `main`, not Rust's: std's start-up would set up the main thread's
//! stack-overflow guard, for which glibc reads and `sscanf`-parses `/proc/self/maps` — about
//! 95 k instructions, a tenth of an ADD, in a process that lives for one call and recurses
//! nowhere deep. A stack overflow then ends the process with SIGSEGV instead of a message.
#![no_main]

use std::ffi::{c_char, c_int};
use std::io::{Read, Write};

/// Exit code of a panic, as std's runtime would give it.
const PANIC_EXIT: c_int = 101;

#[allow(unsafe_code)] // a glibc function without a binding in nix or std
unsafe extern "C" {
    /// glibc's override of `/etc/nsswitch.conf`'s sources for one database.
    fn __nss_configure_lookup(db: *const c_char, service_line: *const c_char) -> c_int;
}

/// The name-service sources the plugin uses: those built into glibc. The binary is linked
/// statically (see build.rs), and a static glibc that loads another NSS module
/// (`libnss_systemd`, `libnss_mdns`, … as a host's nsswitch.conf may name) crashes. Users and
/// groups (the vhost `group`) come from /etc/passwd and /etc/group, host names (OVSDB and API
/// server endpoints) from /etc/hosts and DNS — what the Go plugin's static binary reads too.
const NSS_SOURCES: [(&std::ffi::CStr, &std::ffi::CStr); 3] = [
    (c"passwd", c"files"),
    (c"group", c"files"),
    (c"hosts", c"files dns"),
];

#[allow(unsafe_code)] // the C entry point must be unmangled: see the module's doc
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // std's runtime ignores SIGPIPE so that a peer that stops reading (the runtime, an IPAM
    // plugin exiting early) is an EPIPE error here, not a silent kill mid-journal.
    #[allow(unsafe_code)]
    // SAFETY: no other thread exists yet, and SIG_IGN installs no handler code.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        )
    };
    for (db, sources) in NSS_SOURCES {
        #[allow(unsafe_code)]
        // SAFETY: two NUL-terminated strings that outlive the call; no other thread yet.
        unsafe {
            __nss_configure_lookup(db.as_ptr(), sources.as_ptr());
        }
    }
    // A panic must not unwind out of an `extern "C"` function (that aborts): it exits as
    // std's runtime would, after the hook has printed it.
    std::panic::catch_unwind(run).unwrap_or(PANIC_EXIT)
}

fn run() -> c_int {
    let start = std::time::Instant::now();
    let env = std::env::vars().collect();
    let mut stdin = Vec::new();
    // VERSION may come with an empty stdin; an unreadable one is reported as a decode error.
    let _ = std::io::stdin().read_to_end(&mut stdin);
    // Decoded once: logging, the reply's version and the config all read this.
    let stdin = userspace_plugin::config::Stdin::new(stdin);
    userspace_plugin::logging::init(&stdin);
    let out = userspace_plugin::run_stdin(&env, stdin, &userspace_plugin::engine::RealSwitches);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.stdout.as_bytes());
    let _ = stdout.flush();
    if let Some(profile) = userspace_plugin::profile::report(start) {
        eprintln!("{profile}");
    }
    out.code
}
