//! `userspace`: the CNI plugin binary. The runtime's environment and stdin in, one JSON
//! document on stdout, exit code 0 or 1.

use std::io::{Read, Write};

fn main() {
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
    std::process::exit(out.code);
}
