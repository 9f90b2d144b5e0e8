//! The `userspace` CNI plugin as a library, so that every verb can be tested in-process.
//!
//! [`run`] takes the runtime's environment and stdin and returns what goes to stdout and the
//! exit code; `main` only does the process I/O.
#![deny(missing_docs)]

pub mod attachment;
pub mod cni;
pub mod config;
pub(crate) mod crash;
pub mod engine;
pub(crate) mod identity;
pub(crate) mod ipam;
pub mod k8s;
pub mod logging;
pub mod profile;
pub(crate) mod publish;
pub(crate) mod shared_dir;
pub(crate) mod verbs;

use std::collections::BTreeMap;

use cni::{CniCommand, CniError, ErrorCode, LATEST, Verb};

/// What the process prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// stdout (the protocol).
    pub stdout: String,
    /// Exit code.
    pub code: i32,
}

/// Runs one invocation against the node's switches.
pub fn run(env: &BTreeMap<String, String>, stdin: &[u8]) -> Outcome {
    run_with(env, stdin, &engine::RealSwitches)
}

/// Runs one invocation with the engines `switches` opens (tests pass a fake).
pub fn run_with(
    env: &BTreeMap<String, String>,
    stdin: &[u8],
    switches: &dyn engine::Connector,
) -> Outcome {
    run_stdin(env, config::Stdin::new(stdin.to_vec()), switches)
}

/// Runs one invocation on stdin decoded once (the binary decodes it before logging starts).
pub fn run_stdin(
    env: &BTreeMap<String, String>,
    stdin: config::Stdin,
    switches: &dyn engine::Connector,
) -> Outcome {
    let version = stdin.version().unwrap_or(LATEST).to_owned();
    match dispatch(env, stdin, switches) {
        Ok(stdout) => Outcome { stdout, code: 0 },
        Err(e) => {
            tracing::error!("{e}");
            Outcome {
                stdout: e.to_json(&version),
                code: 1,
            }
        }
    }
}

fn dispatch(
    env: &BTreeMap<String, String>,
    stdin: config::Stdin,
    switches: &dyn engine::Connector,
) -> Result<String, CniError> {
    if env.get("CNI_COMMAND").map(String::as_str) == Some("VERSION") {
        return Ok(cni::version_json());
    }
    let cmd = CniCommand::from_env(env)?;
    let mut config = config::load_stdin(
        stdin,
        cmd.verb,
        env.get(config::OVSDB_ENV).cloned(),
        env.get(config::VPP_SOCKET_ENV).cloned(),
    )?;
    config.ovn_northbound_env = env.get(config::OVN_NB_ENV).cloned();
    if !cni::verb_allowed(cmd.verb, config.version()) {
        return Err(CniError::new(
            ErrorCode::IncompatibleVersion,
            format!(
                "{} is not defined for cniVersion {}",
                cmd.verb,
                config.version()
            ),
        ));
    }
    if matches!(cmd.verb, Verb::Add | Verb::Check | Verb::Status) {
        engine::validate(&config)?;
    }
    tracing::info!(verb = %cmd.verb, container = %cmd.container_id, ifname = %cmd.ifname, network = %config.net.name, "invoked");
    let ctx = verbs::Ctx::new(&cmd, &config, switches);
    match cmd.verb {
        Verb::Add => verbs::add::run(&ctx),
        Verb::Del => verbs::del::run(&ctx),
        Verb::Check => verbs::check::run(&ctx),
        Verb::Status => verbs::status::run(&ctx),
        Verb::Gc => verbs::gc::run(&ctx),
        Verb::Version => Ok(cni::version_json()),
    }
}
