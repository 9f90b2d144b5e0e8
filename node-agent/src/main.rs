//! `userspace-node`: the node agent. See the README's "Observing and healing a node".

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Parser;
use ovsdb::Endpoint;
use tokio::signal::unix::{SignalKind, signal};
use userspace_node::http::{self, App};
use userspace_node::metrics::{self, Sources};
use userspace_node::{ovs, vpp, vpp_counters};

/// The default `--listen`: all addresses, port 9741 (unassigned in Prometheus' list of
/// exporter ports when chosen).
const DEFAULT_LISTEN: &str = "0.0.0.0:9741";

#[derive(Debug, Parser)]
#[command(
    name = "userspace-node",
    version,
    about = "Per-attachment metrics and health for the userspace CNI plugin's node"
)]
struct Args {
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "USERSPACE_NODE_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The plugin's state directory (NetConf `stateDir`).
    #[arg(long, env = "USERSPACE_NODE_STATE_DIR", default_value = userspace_plugin::config::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// OVSDB to monitor, `unix:<path>`; OVS is not watched without it.
    #[arg(long, env = "USERSPACE_NODE_OVSDB")]
    ovsdb: Option<String>,
    /// Re-create journaled OVS ports found missing from OVSDB (deleted by hand); without it
    /// they are only reported.
    #[arg(long, requires = "ovsdb")]
    repair: bool,
    /// VPP's API socket to watch: after a VPP restart every committed VPP attachment is
    /// made again; VPP is not watched without it.
    #[arg(long, env = "USERSPACE_NODE_VPP_SOCKET")]
    vpp_socket: Option<PathBuf>,
    /// VPP's stats socket, read (with --vpp-socket) for VPP attachments' counters.
    #[arg(long, env = "USERSPACE_NODE_VPP_STATS_SOCKET", default_value = vpp_api::stats::DEFAULT_STATS_SOCKET)]
    vpp_stats_socket: PathBuf,
    /// Log filter (tracing's env-filter syntax).
    #[arg(long, env = "USERSPACE_NODE_LOG", default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let stop = Arc::new(AtomicBool::new(false));
    let mut repaired = None;
    let ovs = match &args.ovsdb {
        Some(e) => {
            let endpoint = Endpoint::parse(e).context("--ovsdb")?;
            let view = ovs::SharedView::default();
            ovs::spawn_monitor(endpoint, view.clone(), stop.clone());
            if args.repair {
                let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let store = userspace_plugin::attachment::journal::Store::new(&args.state_dir);
                ovs::spawn_repair(e.clone(), store, view.clone(), count.clone(), stop.clone());
                repaired = Some(count);
            }
            Some(view)
        }
        None => None,
    };
    let vpp = args.vpp_socket.as_ref().map(|socket| {
        let status = Arc::new(vpp::VppStatus::default());
        let store = userspace_plugin::attachment::journal::Store::new(&args.state_dir);
        vpp::spawn_watcher(socket.clone(), store, status.clone(), stop.clone());
        status
    });
    let mut sources = Sources::new(args.state_dir.clone(), ovs);
    sources.vpp = vpp;
    sources.vpp_sockets = args
        .vpp_socket
        .as_ref()
        .map(|api| vpp_counters::VppSockets {
            api: api.clone(),
            stats: args.vpp_stats_socket.clone(),
        });
    sources.repaired = repaired;
    let sources = Arc::new(sources);
    let app = Arc::new(App {
        registry: metrics::registry(sources.clone()),
        sources,
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr().context("listening address")?;
    tracing::info!(listen = %local, state_dir = %args.state_dir.display(), ovsdb = ?args.ovsdb, "serving");
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let server = axum::serve(listener, http::router(app));
    tokio::select! {
        r = server => r.context("HTTP server")?,
        _ = term.recv() => tracing::info!("SIGTERM: exiting"),
        _ = int.recv() => tracing::info!("SIGINT: exiting"),
    }
    // The monitor thread sees the flag within its tick; the process does not wait for it
    // (nor for scrapes in flight), so it exits well within a second.
    stop.store(true, Ordering::Relaxed);
    Ok(())
}
