//! ADD: claim the names, make the directory (and alias), lease an address, make the port,
//! write the pod's files and annotation, commit. Every step is journaled before it is made;
//! a failure rolls back with DEL's undo.

use std::net::IpAddr;
use std::path::PathBuf;

use userspace_cni_sdk::MacAddr;
use userspace_cni_sdk::discovery::DEFAULT_SHARED_DIR;
use userspace_cni_sdk::wire::{
    self, CniInterface, CniResult, ConfigurationData, Device, DeviceInfo, IfType, IpConfig,
    MemifDevice, MemifRole, VhostMode, VhostUserDevice, VhostUserIp4Conf,
};

use super::Ctx;
use super::names::{managed_dir_candidates, socket_name};
use super::recover::undo_attachment;
use super::switches::Engines;
use super::undo::{rollback_wants, undo_journal};
use crate::attachment::AttachmentId;
use crate::attachment::claims::{ClaimName, Claims, Taken};
use crate::attachment::journal::{PodRef, Step, Writer};
use crate::cni::{CniError, ErrorCode, Verb};
use crate::config::{Config, Mtu};
use crate::engine::vpp::attach::host_address;
use crate::engine::{AttachRequest, EngineRecord};
use crate::k8s::{self, PodFacts, SharedVolume};
use crate::{ipam, publish, shared_dir};

/// Where an attachment's things go.
struct Placement {
    /// The shared directory (host path).
    dir: PathBuf,
    /// The claimed stem of the short names.
    stem: String,
    /// The socket's file name.
    sockname: String,
    /// The socket's host path.
    socket: PathBuf,
    /// The socket's path as the switch sees it (through the alias when the real one is long).
    switch_socket: PathBuf,
    /// The socket's path as the pod sees it: under the shared volume's `mountPath` when the
    /// pod object says it, else under the conventional mount point.
    pod_socket: PathBuf,
}

/// Runs ADD; returns the result JSON in the config's version.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    let id = ctx.id()?;
    check_netns(ctx)?;
    // A bad MAC is refused before anything is claimed, leased or made.
    let mac = ctx
        .config
        .requested_mac(&ctx.cmd.args)?
        .unwrap_or_else(|| id.mac());
    let lock = ctx.store.lock(&id)?;
    if let Some(j) = ctx.store.load(&id)? {
        if j.complete {
            return Err(CniError::new(
                ErrorCode::Internal,
                format!("{id} is already attached: DEL it first"),
            ));
        }
        // A killed ADD's leftovers go before this one starts.
        undo_attachment(ctx, &id, Some(&j), &mut Engines::default())?;
        ctx.store.remove(&id)?;
    }
    let pod = PodRef::from_args(&ctx.cmd.args);
    let mut w = Writer::begin(&ctx.store, id.clone(), &ctx.config.net.name, pod);
    let mut engines = Engines::default();
    match steps(ctx, &mut w, &mut engines, mac) {
        Ok(out) => Ok(out),
        Err(e) => {
            tracing::warn!("ADD failed, rolling back: {e}");
            if let Err(u) = undo_journal(ctx, &w.journal, &mut engines, rollback_wants) {
                tracing::warn!("rollback incomplete, the journal stays for DEL: {u}");
                return Err(e);
            }
            ctx.store.remove(&id)?;
            lock.remove()?;
            Err(e)
        }
    }
}

/// The runtime's network namespace must exist before anything is allocated for it.
fn check_netns(ctx: &Ctx<'_>) -> Result<(), CniError> {
    match &ctx.cmd.netns {
        Some(p) if p.exists() => Ok(()),
        Some(p) => Err(CniError::new(
            ErrorCode::InvalidEnv,
            format!("CNI_NETNS {} does not exist", p.display()),
        )),
        None => Err(CniError::new(ErrorCode::InvalidEnv, "CNI_NETNS is not set")),
    }
}

fn steps(
    ctx: &Ctx<'_>,
    w: &mut Writer<'_>,
    engines: &mut Engines,
    mac: MacAddr,
) -> Result<String, CniError> {
    let kube = crate::profile::time(crate::profile::Phase::Kube, || kube_session(ctx))?;
    let place = place(ctx, w, kube.as_ref().map(|(_, f)| f))?;
    let ipam = lease(ctx, w)?;
    let record = attach(ctx, w, engines, &place, ipam.as_ref(), mac)?;
    if let Some(g) = ctx
        .config
        .host
        .vhost
        .as_ref()
        .and_then(|v| v.group.as_deref())
    {
        shared_dir::share_socket(&place.socket, g);
    }
    let mut result = build_result(ctx, &w.journal.id, &place, ipam.as_ref(), mac);
    if let (None, Some(a)) = (&ipam, record.assigned()) {
        // No IPAM plugin: the switch's own (OVN's) address.
        result.ips.push(IpConfig {
            version: None,
            interface: Some(0),
            address: a.address,
            gateway: a.gateway,
        });
    }
    let entry = publish_files(ctx, w, &place, &result)?;
    if let Some((session, facts)) = &kube {
        let (namespace, name) = (session.pod.namespace.clone(), session.pod.name.clone());
        w.run(Step::Annotation { namespace, name }, |_| {
            session
                .publish(&entry, facts.mount_path.as_deref())
                .map(|()| ((), None))
                .map_err(CniError::from)
        })?;
    }
    tracing::debug!(port = %record.name(), "attached");
    let out = result.convert_to(ctx.config.version())?;
    let recorded = serde_json::to_value(&result).map_err(|e| {
        CniError::new(ErrorCode::Internal, "cannot encode the result").with_details(e.to_string())
    })?;
    w.commit(recorded)?;
    serde_json::to_string(&out).map_err(|e| {
        CniError::new(ErrorCode::Internal, "cannot encode the result").with_details(e.to_string())
    })
}

/// With a kubeconfig and a Kubernetes pod: the session and the pod's `shared-dir` volume.
fn kube_session(ctx: &Ctx<'_>) -> Result<Option<(k8s::Session, PodFacts)>, CniError> {
    match (
        &ctx.config.net.kubeconfig,
        k8s::PodRef::from_args(&ctx.cmd.args),
    ) {
        (Some(path), Some(pod)) => {
            let session = k8s::Session::connect(path, pod)?;
            let facts = session.pod_facts(&ctx.config.kubelet_root)?;
            Ok(Some((session, facts)))
        }
        _ => Ok(None),
    }
}

/// Claims the names, makes the directory and, for a long path, the attachment's alias.
fn place(
    ctx: &Ctx<'_>,
    w: &mut Writer<'_>,
    facts: Option<&PodFacts>,
) -> Result<Placement, CniError> {
    let id = w.journal.id.clone();
    let key = id.key();
    let _names = ctx.store.names_lock()?;
    let claims = ctx.store.claims();
    let stem = claim_stem(w, &claims, &id)?;
    let group = ctx.config.host.vhost.as_ref().and_then(|v| v.group.clone());
    let dir = match facts.and_then(|f| f.volume.clone()) {
        Some(SharedVolume::HostPath(p)) => {
            shared_dir::check_allowed(&p, &ctx.config.allowed_roots)?;
            pod_dir(w, p, group.as_deref())?
        }
        Some(SharedVolume::EmptyDir(p)) => pod_dir(w, p, group.as_deref())?,
        None => managed_dir(ctx.config, w, &claims, &id, group.as_deref())?,
    };
    let sockname = socket_name(ctx.config, &stem);
    let socket = dir.join(&sockname);
    let name = ClaimName::Socket(socket.clone());
    if let Taken::ByOther(owner) = w.run(Step::Claim { name: name.clone() }, |_| {
        claims.take(&name, &key, &key).map(|t| (t, None))
    })? {
        return Err(CniError::new(
            ErrorCode::InvalidConfig,
            format!("socket {} is attachment {owner}'s", socket.display()),
        ));
    }
    let switch_socket = if shared_dir::check_socket_path(&socket).is_err() {
        let mount = ctx.config.alias_root.join(&stem);
        w.run(
            Step::Alias {
                mount: mount.clone(),
            },
            |_| {
                shared_dir::mount_alias(&dir, &mount)
                    .map(|()| ((), None))
                    .map_err(CniError::from)
            },
        )?;
        mount.join(&sockname)
    } else {
        socket.clone()
    };
    shared_dir::check_socket_path(&switch_socket)?;
    shared_dir::clear_socket_path(&socket)?;
    let pod_socket = facts
        .and_then(|f| f.mount_path.as_deref())
        .map_or_else(|| PathBuf::from(DEFAULT_SHARED_DIR), PathBuf::from)
        .join(&sockname);
    Ok(Placement {
        dir,
        stem,
        sockname,
        socket,
        switch_socket,
        pod_socket,
    })
}

/// The plain stem, or the disambiguated one when another attachment holds it.
fn claim_stem(w: &mut Writer<'_>, claims: &Claims, id: &AttachmentId) -> Result<String, CniError> {
    let key = id.key();
    for disambiguate in [false, true] {
        let stem = id.stem(disambiguate);
        let name = ClaimName::Stem(stem.clone());
        let taken = w.run(Step::Claim { name: name.clone() }, |_| {
            claims.take(&name, &key, &key).map(|t| (t, None))
        })?;
        match taken {
            Taken::Yes => return Ok(stem),
            Taken::ByOther(owner) => {
                tracing::info!("name {stem} is attachment {owner}'s: using a distinct one");
            }
        }
    }
    Err(CniError::new(
        ErrorCode::Internal,
        format!("no free name for {id}: both stems are held by other attachments"),
    ))
}

/// The pod's own volume: created (and removed when empty) only if it is not there yet.
fn pod_dir(w: &mut Writer<'_>, path: PathBuf, group: Option<&str>) -> Result<PathBuf, CniError> {
    if path.exists() {
        shared_dir::ensure(&path, group)?;
    } else {
        w.run(
            Step::Dir {
                path: path.clone(),
                managed: false,
            },
            |_| {
                shared_dir::ensure(&path, group)
                    .map(|_| ((), None))
                    .map_err(CniError::from)
            },
        )?;
    }
    Ok(path)
}

/// The plugin's per-container directory under `sharedDir`, shared by the container's
/// attachments and claimed by the container: another container with the same ID prefix gets
/// a distinct one.
fn managed_dir(
    config: &Config,
    w: &mut Writer<'_>,
    claims: &Claims,
    id: &AttachmentId,
    group: Option<&str>,
) -> Result<PathBuf, CniError> {
    let owner = id.container_id.as_str();
    let [plain, hashed] = managed_dir_candidates(config, id);
    let path = if claims
        .owner(&ClaimName::Dir(plain.clone()))?
        .is_some_and(|o| o != owner)
    {
        hashed
    } else {
        plain
    };
    let name = ClaimName::Dir(path.clone());
    let key = id.key();
    let step = Step::Dir {
        path: path.clone(),
        managed: true,
    };
    let taken = w.run(step, |_| {
        let t = claims.take(&name, owner, &key)?;
        if t == Taken::Yes {
            shared_dir::ensure(&path, group)?;
        }
        Ok::<_, CniError>((t, None))
    })?;
    match taken {
        Taken::Yes => Ok(path),
        Taken::ByOther(o) => Err(CniError::new(
            ErrorCode::Internal,
            format!("shared directory {} is container {o}'s", path.display()),
        )),
    }
}

/// IPAM first: an address shortage must fail before a port exists.
fn lease(ctx: &Ctx<'_>, w: &mut Writer<'_>) -> Result<Option<CniResult>, CniError> {
    let Some(plugin) = ctx.config.ipam_type() else {
        return Ok(ctx
            .config
            .net
            .prev_result
            .clone()
            .and_then(|v| serde_json::from_value(v).ok()));
    };
    let step = Step::Lease {
        plugin: plugin.to_owned(),
    };
    let out = w.run(step, |_| {
        ipam::exec(ctx.cmd, plugin, Verb::Add, &ctx.config.raw)
            .map(|o| (o, None))
            .map_err(CniError::from)
    })?;
    Ok(Some(ipam::result(plugin, &out)?))
}

/// The switch's port or interface.
fn attach(
    ctx: &Ctx<'_>,
    w: &mut Writer<'_>,
    engines: &mut Engines,
    place: &Placement,
    ipam: Option<&CniResult>,
    mac: MacAddr,
) -> Result<EngineRecord, CniError> {
    let req = AttachRequest {
        mac,
        pod: PodRef::from_args(&ctx.cmd.args).map(|p| (p.namespace, p.name)),
        id: w.journal.id.clone(),
        network: ctx.config.net.name.clone(),
        stem: place.stem.clone(),
        socket: place.switch_socket.clone(),
        host_address: ipam
            .and_then(|r| r.ips.first())
            .and_then(|ip| host_address(&ip.address, ip.gateway)),
        pod_address: ipam.and_then(|r| r.ips.first()).map(|ip| ip.address),
    };
    let planned = EngineRecord::plan(ctx.config, &req)?;
    crate::profile::time(crate::profile::Phase::Switch, || {
        engines.get(ctx, ctx.config.engine)
    })?;
    w.run(Step::Port { record: planned }, |step| {
        let Step::Port { record } = step else {
            return Err(CniError::new(ErrorCode::Internal, "journal step mismatch"));
        };
        let made = engines.attach(ctx, record)?;
        Ok((made.clone(), Some(Step::Port { record: made })))
    })
}

fn build_result(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    place: &Placement,
    ipam: Option<&CniResult>,
    mac: MacAddr,
) -> CniResult {
    let mut result = CniResult::new("1.1.0");
    result.interfaces.push(CniInterface {
        name: id.ifname.clone(),
        mac: Some(mac),
        mtu: ctx.config.mtu().map(Mtu::get),
        sandbox: ctx.cmd.netns.as_ref().map(|p| p.display().to_string()),
        socket_path: Some(place.socket.display().to_string()),
        pci_id: None,
    });
    if let Some(r) = ipam {
        for ip in &r.ips {
            let mut ip = ip.clone();
            ip.interface = Some(0);
            result.ips.push(ip);
        }
        result.routes = r.routes.clone();
        result.dns = r.dns.clone();
    }
    result
}

/// The configuration-data file, the `-ip4.conf` file and the NPWG device-info file.
fn publish_files(
    ctx: &Ctx<'_>,
    w: &mut Writer<'_>,
    place: &Placement,
    result: &CniResult,
) -> Result<ConfigurationData, CniError> {
    let id = w.journal.id.clone();
    let mut container = ctx.config.net.container_conf(!result.ips.is_empty());
    if let Some(v) = container.vhost.as_mut() {
        v.socketfile = Some(place.sockname.clone());
    }
    if let Some(m) = container.memif.as_mut() {
        m.socketfile = Some(place.sockname.clone());
    }
    // The pod sends untagged frames; the host port's VLAN is published for `inspect`.
    if let Some(vlan) = ctx.config.vlan() {
        let b = container.bridge.get_or_insert_with(Default::default);
        b.vlan_id = b
            .vlan_id
            .filter(|v| *v != 0)
            .or(Some(i64::from(vlan.get())));
    }
    let entry_result = result.convert_to(ctx.config.version())?;
    let entry = ConfigurationData {
        container_id: id.container_id.to_string(),
        if_name: id.ifname.clone(),
        name: ctx.config.net.name.clone(),
        config: container.clone(),
        ip_result: Some(entry_result),
    };
    let path = publish::config_data_path(&place.dir, &place.stem);
    w.run(Step::File { path: path.clone() }, |_| {
        publish::write_config_data(&path, &entry)
            .map(|()| ((), None))
            .map_err(CniError::from)
    })?;
    if let Some(v4) = result.first_ipv4() {
        let conf = VhostUserIp4Conf {
            ip_addr: v4.address.to_string(),
            mac_addr: result.mac_of(&id.ifname),
            gateway: v4.gateway.map(|g: IpAddr| g.to_string()),
            gw_mac: None,
        };
        let path = publish::ip4conf_path(&place.dir, &place.stem);
        w.run(Step::File { path: path.clone() }, |_| {
            publish::write_ip4conf(&path, &conf)
                .map(|()| ((), None))
                .map_err(CniError::from)
        })?;
    }
    if let Some(path) = ctx
        .config
        .net
        .runtime_config
        .as_ref()
        .and_then(|r| r.cni_device_info_file.clone())
    {
        let info = device_info(ctx.config, &container, place);
        let path = PathBuf::from(path);
        w.run(Step::File { path: path.clone() }, |_| {
            publish::write_device_info(&path, &info)
                .map(|()| ((), None))
                .map_err(CniError::from)
        })?;
    }
    Ok(entry)
}

/// The NPWG device-info: its `path` is the one the application opens, so the pod's view of
/// the socket (Multus copies it into network-status, which the pod reads).
fn device_info(config: &Config, container: &wire::UserspaceConf, place: &Placement) -> DeviceInfo {
    let path = place.pod_socket.display().to_string();
    let device = match config.iftype {
        IfType::Vhostuser => Device::VhostUser {
            vhost_user: VhostUserDevice {
                mode: container
                    .vhost
                    .as_ref()
                    .and_then(|v| v.mode)
                    .unwrap_or(VhostMode::Client),
                path,
            },
        },
        IfType::Memif => Device::Memif {
            memif: MemifDevice {
                role: container
                    .memif
                    .as_ref()
                    .and_then(|m| m.role)
                    .unwrap_or(MemifRole::Slave),
                path,
                mode: container.memif.as_ref().and_then(|m| m.mode),
            },
        },
    };
    DeviceInfo {
        version: "1.1.0".into(),
        device,
    }
}
