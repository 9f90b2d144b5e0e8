# A private containerd with its CRI plugin, as a Kubernetes node runs it (sourced). Everything
# lives under one directory; nothing of the machine's own containerd (if any) is touched.
# Needs root, Debian's containerd (1.6) and runc.
#
# containerd keeps two paths no option moves: the shims' sockets in /run/containerd/s and
# libcni's result cache in /var/lib/cni. So the node gets its own mount namespace, held by a
# `sleep infinity` process, in which private directories are bound over /run, /var/lib/cni and
# /var/lib/kubelet (the plugin resolves emptyDir volumes under /var/lib/kubelet). containerd,
# the CNI plugins it runs and the switch run in that namespace; when the holder and they are
# gone, its mounts go with it.
#
#   cri_start DIR CNI_BIN_DIR CNI_CONF_DIR KUBELET_ROOT   sets CRI_SOCK, CRI_HOLDER, CRI_PID
#   cri_node CMD...                                        runs CMD in the node's mount namespace
#   cri_import_pause DIR                                   builds and imports the pause image
#   cri_import_podman IMAGE DIR                            copies a podman image into k8s.io
#   cri_stop DIR                                           stops everything, removes DIR's state

CRI_PAUSE_IMAGE=localhost/userspace-cni/pause:1
CRI_CGROUP_PARENT=usrspcni-node
CRI_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

cri_start() {
  local dir=$1 bindir=$2 confdir=$3 kubelet=$4 i
  mkdir -p "$dir"/{root,state,tmp,opt,runc,run,cni-lib} "$kubelet" "$confdir"
  cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
temp = "$dir/tmp"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: without this the sandbox fails to start.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$bindir"
    conf_dir = "$confdir"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/runc"
TOML
  # Mount points on the host for the private binds; removed by cri_stop if made here.
  : >"$dir/made-dirs"
  for i in /var/lib/cni /var/lib/kubelet; do
    [ -d "$i" ] || { mkdir -p "$i"; echo "$i" >>"$dir/made-dirs"; }
  done
  unshare --mount --propagation private sleep infinity &
  CRI_HOLDER=$!
  echo "$CRI_HOLDER" >"$dir/holder.pid"
  for i in $(seq 1 100); do
    [ "$(readlink /proc/$CRI_HOLDER/ns/mnt 2>/dev/null)" != "$(readlink /proc/self/ns/mnt)" ] && break
    sleep 0.05
  done
  nsenter -t "$CRI_HOLDER" -m -- sh -ec "
    mount --bind '$dir/run' /run
    mount --bind '$dir/cni-lib' /var/lib/cni
    mount --bind '$kubelet' /var/lib/kubelet"
  CRI_SOCK=$dir/containerd.sock
  # A known, small environment: containerd hands it to every CNI plugin it runs.
  nsenter -t "$CRI_HOLDER" -m -- env -i PATH="$CRI_PATH" \
    containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  CRI_PID=$!
  echo "$CRI_PID" >"$dir/containerd.pid"
  for i in $(seq 1 100); do
    ctr --address "$CRI_SOCK" version >/dev/null 2>&1 && return 0
    kill -0 "$CRI_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "containerd did not come up; see $dir/containerd.log" >&2
  tail -20 "$dir/containerd.log" >&2
  return 1
}

cri_node() { nsenter -t "$CRI_HOLDER" -m -- "$@"; }

cri_ctr() { ctr --address "$CRI_SOCK" -n k8s.io "$@"; }

# docker_archive ROOTFS NAME ENTRYPOINT-JSON OUT: a one-layer docker-archive tarball (what
# `docker save` writes), so that images need no registry and no builder.
docker_archive() {
  local rootfs=$1 name=$2 entry=$3 out=$4 work diff cfg
  work=$(mktemp -d)
  tar --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  jq -n --arg diff "sha256:$diff" --argjson entry "$entry" \
    '{architecture: "amd64", os: "linux", config: {Entrypoint: $entry, Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
      rootfs: {type: "layers", diff_ids: [$diff]}}' >"$work/config.json"
  cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$cfg.json"
  jq -n --arg cfg "$cfg.json" --arg name "$name" '[{Config: $cfg, RepoTags: [$name], Layers: ["layer.tar"]}]' >"$work/manifest.json"
  tar -C "$work" -cf "$out" manifest.json "$cfg.json" layer.tar
  rm -rf "$work"
}

cri_import_pause() {
  local dir=$1
  mkdir -p "$dir/pause-rootfs"
  gcc -static -O2 -o "$dir/pause-rootfs/pause" "$(dirname "${BASH_SOURCE[0]}")/../../images/pause/pause.c"
  docker_archive "$dir/pause-rootfs" "$CRI_PAUSE_IMAGE" '["/pause"]' "$dir/pause.tar"
  cri_ctr images import "$dir/pause.tar" >/dev/null
  rm -rf "$dir/pause-rootfs" "$dir/pause.tar"
}

cri_import_podman() {
  local image=$1 dir=$2
  podman image save --format docker-archive -o "$dir/image.tar" "$image" >/dev/null
  cri_ctr images import "$dir/image.tar" >/dev/null
  rm -f "$dir/image.tar"
}

# The shims containerd started (each has `-address <socket>` on its command line).
cri_shims() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "-address $CRI_SOCK " && echo "${p#/proc/}"
  done
  return 0
}

cri_stop() {
  local dir=$1 p i c
  [ -f "$dir/containerd.pid" ] && CRI_PID=$(cat "$dir/containerd.pid")
  [ -f "$dir/holder.pid" ] && CRI_HOLDER=$(cat "$dir/holder.pid")
  CRI_SOCK=$dir/containerd.sock
  if [ -n "${CRI_PID:-}" ] && kill -0 "$CRI_PID" 2>/dev/null; then
    kill "$CRI_PID"
    for i in $(seq 1 100); do kill -0 "$CRI_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  for p in $(cri_shims); do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "${CRI_HOLDER:-}" ]; then
    kill "$CRI_HOLDER" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$CRI_HOLDER" 2>/dev/null || break; sleep 0.05; done
  fi
  for c in /sys/fs/cgroup/*/"$CRI_CGROUP_PARENT"; do
    [ -d "$c" ] || continue
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -f "$dir/made-dirs" ]; then
    while read -r p; do rmdir "$p" 2>/dev/null || true; done <"$dir/made-dirs"
  fi
  rm -rf "$dir"
}
