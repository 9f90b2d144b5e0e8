//! Flags, following kubectl's and krew's conventions.

use std::path::PathBuf;

use clap::Parser;

/// Run testpmd on a pod's userspace (vhost-user, memif, SR-IOV) interfaces.
///
/// Runs `userspace-agent testpmd` in the pod's container through the exec API: the agent finds
/// the interfaces the userspace CNI plugin gave the pod and builds the testpmd command line.
/// Interactive (a TTY) when run from a terminal.
///
/// Examples:
///   kubectl testpmd dpdk-app-0
///   kubectl testpmd -n cnf dpdk-app-0 -c dpdk -- --forward-mode=mac
///   kubectl testpmd dpdk-app-0 --dry-run      # show the line the agent would run
///   kubectl testpmd dpdk-app-0 --inspect      # show what the agent sees
#[derive(Debug, Parser)]
#[command(name = "kubectl-testpmd", version, verbatim_doc_comment)]
pub struct Cli {
    /// The pod.
    pub pod: String,
    /// Namespace [default: the context's, else "default"].
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Container [default: the only one, or the kubectl.kubernetes.io/default-container annotation].
    #[arg(short, long)]
    pub container: Option<String>,
    /// kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster].
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Print the testpmd command line the agent would run, and exit.
    #[arg(long, conflicts_with = "inspect")]
    pub dry_run: bool,
    /// Print what the agent sees (interfaces, sources, resources), and exit.
    #[arg(long)]
    pub inspect: bool,
    /// The agent inside the container.
    #[arg(long, default_value = "userspace-agent")]
    pub agent: String,
    /// Extra testpmd arguments, after `--`.
    #[arg(last = true)]
    pub extra: Vec<String>,
}

impl Cli {
    /// The command run in the container.
    pub fn remote_command(&self) -> Vec<String> {
        let mut c = vec![self.agent.clone()];
        if self.inspect {
            c.push("inspect".into());
            return c;
        }
        c.push("testpmd".into());
        if self.dry_run {
            c.push("--dry-run".into());
        } else if self.interactive() {
            c.push("--interactive".into());
        }
        if !self.extra.is_empty() {
            c.push("--".into());
            c.extend(self.extra.iter().cloned());
        }
        c
    }

    /// A TTY only for a live testpmd driven from a terminal.
    pub fn interactive(&self) -> bool {
        use std::io::IsTerminal;
        !self.dry_run && !self.inspect && std::io::stdin().is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_kubectl_and_extra_args_follow_the_separator() {
        let c = Cli::parse_from([
            "kubectl-testpmd",
            "-n",
            "cnf",
            "-c",
            "dpdk",
            "web-0",
            "--dry-run",
            "--",
            "--rxd=512",
        ]);
        assert_eq!(
            (
                c.namespace.as_deref(),
                c.container.as_deref(),
                c.pod.as_str()
            ),
            (Some("cnf"), Some("dpdk"), "web-0")
        );
        assert_eq!(
            c.remote_command(),
            ["userspace-agent", "testpmd", "--dry-run", "--", "--rxd=512"]
        );
    }

    #[test]
    fn inspect_runs_the_agents_inspect() {
        let c = Cli::parse_from(["kubectl-testpmd", "web-0", "--inspect"]);
        assert_eq!(c.remote_command(), ["userspace-agent", "inspect"]);
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
