#!/usr/bin/env bash
# `scripts/demo.sh containerd`: a Kubernetes node for real. A private containerd (its CRI
# plugin, runc, the pause image) is driven like kubelet drives it by `node-harness`; the one
# CNI conflist it runs holds `multus-harness`, which calls the `userspace` plugin for each
# network in the pod's k8s.v1.cni.cncf.io/networks annotation as Multus v4.2 does (network-status
# through PUT …/status); the pods, the NetworkAttachmentDefinitions and the events live in a
# fake API server (JSON only). Pod FWD has two vhost-user interfaces (net1 on br-a, net2 on br-b
# of a private OVS-DPDK switch) and runs testpmd `io` forwarding net1<->net2; pod SND sends counted bursts into FWD's net1 and gets
# them back from FWD's net2 (and the other way round). Then ovs-vswitchd restarts, and after
# that SND is removed and a new sender checks that FWD still forwards. Everything is torn down
# and checked for residue. Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/ovs-dpdk.sh
source scripts/lib/containerd.sh
source scripts/lib/testpmd-ctl.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
spin() { # spin "message" cmd... : runs a long step, its output in $RUN/step.log
  local msg=$1 t0=$SECONDS; shift
  printf '  ... %s\n' "$msg"
  if ( "$@" ) >"$RUN/step.log" 2>&1; then printf '  done: %s (%ds)\n' "$msg" $((SECONDS - t0)); else
    printf '  FAILED: %s\n' "$msg"; tail -40 "$RUN/step.log"; exit 1; fi
}

RUN=$(mktemp -d /tmp/uscri.XXXX)
IMAGE=localhost/userspace-cni/testpmd:latest
BIN=$PWD/target/release
NODE=(env NODE_LOG=warn "$PWD/target/node-harness/release/node-harness")
API_PID=""
cleanup() {
  set +e
  if [ -S "$RUN/c/containerd.sock" ] && [ -n "$API_PID" ]; then
    for p in snd2 snd fwd; do "${NODE[@]}" remove-pod "${NODEARGS[@]}" "$p" >/dev/null 2>&1; done
  fi
  [ -n "${CRI_HOLDER:-}" ] && cri_node bash -c "source $PWD/scripts/lib/ovs-dpdk.sh; ovs_stop '$RUN/ovs'" 2>/dev/null
  cri_stop "$RUN/c"
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null
  [ -n "${DEMO_KEEP:-}" ] && echo "kept $RUN" || rm -rf "$RUN"
}
trap cleanup EXIT

step "Set-up: packages, hugepages, build, images"
spin "packages and hugepages (scripts/setup-host.sh)" bash scripts/setup-host.sh
spin "testpmd image (scripts/build-images.sh: builds the plugin and the agent)" bash scripts/build-images.sh --only testpmd
# In its own target directory: sharing one with the plugin's and the agent's build, its
# different feature set for common dependencies makes cargo rebuild the SDK, the plugin and the
# agent (and so the image) on every run.
spin "cargo build --release -p userspace-node-harness" \
  env CARGO_TARGET_DIR="$PWD/target/node-harness" cargo build --release -q -p userspace-node-harness

# CNI binaries, for containerd and for the delegates: the reference plugins (loopback for
# containerd, ptp for the cluster network, host-local for IPAM) and this project's.
mkdir -p "$RUN"/{bin,net,nads,ctl,kubelet,logs}
cp /usr/lib/cni/loopback /usr/lib/cni/host-local /usr/lib/cni/ptp "$RUN/bin/"
cp "$BIN/userspace" "$PWD/target/node-harness/release/multus-harness" "$RUN/bin/"
# Its debug log lists every request (the network-status PUTs are counted at the end).
env NODE_LOG=fake_api=debug "${NODE[@]:2}" api --kubeconfig "$RUN/kubeconfig" >"$RUN/api.addr" 2>"$RUN/api.log" &
API_PID=$!
for _ in $(seq 1 100); do [ -s "$RUN/kubeconfig" ] && break; sleep 0.05; done
NODEARGS=(--cri "$RUN/c/containerd.sock" --kubeconfig "$RUN/kubeconfig" --kubelet-root "$RUN/kubelet"
  --log-root "$RUN/logs" --cpuset 0)
# containerd runs one conflist; its plugin plays Multus. Written before containerd starts
# (its conf-dir reload does not see files moved in).
# No device plugin runs here: podResources stands in for the devices kubelet's pod-resources
# would report for the NADs' resources (one per network), so multus-harness passes
# CNIDeviceInfoFile as Multus does when it knows a device ID.
cat >"$RUN/net/10-node.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "node-net", "plugins": [
 {"type": "multus-harness", "binDir": "$RUN/bin", "kubeconfig": "$RUN/kubeconfig",
  "cniDir": "$RUN/multus-cache", "deviceInfoDir": "$RUN/devinfo", "logFile": "$RUN/multus.log",
  "podResources": {"userspace-cni/dpdk-a": ["vhost-a"], "userspace-cni/dpdk-b": ["vhost-b"]},
  "clusterNetwork": "$RUN/cluster.json"}]}
JSON
# The cluster default network (eth0), as on a kindnet cluster: ptp + host-local. containerd
# needs eth0's address. ptp puts one veth per pod in the host's network namespace and a /32
# route to it; both go at DEL. (It also enables IPv4 forwarding, which is already on here.)
cat >"$RUN/cluster.json" <<JSON
{"cniVersion": "1.0.0", "name": "kindnet", "type": "ptp", "ipMasq": false, "mtu": 1500,
 "ipam": {"type": "host-local", "subnet": "10.98.0.0/24", "dataDir": "$RUN/ipam"}}
JSON
VETHS_BEFORE=$(ip -o link show type veth | wc -l)
# The NADs carry a k8s.v1.cni.cncf.io/resourceName, as a device-plugin-backed network does, so
# multus-harness passes CNIDeviceInfoFile (its device ID from podResources above); the plugin's
# device-info names the socket as the pod sees it, and Multus copies it into network-status, one
# more source the agent cross-checks. Each NAD is created in the API server, where
# multus-harness GETs it.
nad() { # nad NAME BRIDGE SUBNET: a NetworkAttachmentDefinition for the userspace plugin
  cat >"$RUN/nads/$1.yaml" <<YAML
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: $1
  annotations:
    k8s.v1.cni.cncf.io/resourceName: userspace-cni/$1
spec:
  config: '{"cniVersion": "1.0.0", "type": "userspace", "name": "$1",
    "capabilities": {"mac": true, "CNIDeviceInfoFile": true},
    "kubeconfig": "$RUN/kubeconfig", "ovsdbSocket": "unix:$RUN/ovs/db.sock",
    "stateDir": "$RUN/state", "kubeletRoot": "$RUN/kubelet",
    "socketAliasRoot": "$RUN/alias", "logFile": "$RUN/plugin.log", "logLevel": "info",
    "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
             "vhost": {"mode": "client"}, "bridge": {"bridgeName": "$2"}},
    "container": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "interface",
                  "vhost": {"mode": "server"}},
    "ipam": {"type": "host-local", "subnet": "$3", "dataDir": "$RUN/ipam"}}'
YAML
  "${NODE[@]}" create-nad --kubeconfig "$RUN/kubeconfig" "$RUN/nads/$1.yaml"
}

# After the set-up (its packages may make some of these): the demo itself makes none of them.
HOST_DIRS_BEFORE=$(ls -d /var/lib/cni /var/lib/kubelet /var/lib/vhost_sockets 2>/dev/null || true)
step "Start a private containerd (CRI) in its own mount namespace, and OVS-DPDK beside it"
spin "containerd $(containerd --version | awk '{print $3}') with the CRI plugin, runc, overlayfs" \
  cri_start "$RUN/c" "$RUN/bin" "$RUN/net" "$RUN/kubelet"
CRI_HOLDER=$(cat "$RUN/c/holder.pid"); CRI_SOCK=$RUN/c/containerd.sock
spin "pause image (gcc -static) and $IMAGE imported into namespace k8s.io" \
  bash -c "source scripts/lib/containerd.sh; CRI_SOCK=$CRI_SOCK; cri_import_pause $RUN/c && cri_import_podman $IMAGE $RUN/c"
echo "  images: $(cri_ctr images ls -q | grep -v '^sha256' | tr '\n' ' ')"
# The switch runs in the node's mount namespace: the plugin bind-mounts short aliases of the
# pods' long emptyDir paths there (under $RUN/alias), and OVS connects through them.
spin "ovsdb-server + ovs-vswitchd with DPDK (in the node's mount namespace)" \
  cri_node bash -c "source $PWD/scripts/lib/ovs-dpdk.sh; ovs_start '$RUN/ovs'"
vsctl() { ovs-vsctl --db="unix:$RUN/ovs/db.sock" "$@"; }

strip() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1"; }
pod_manifest() { # pod_manifest NAME FORWARD-MODE
  mkdir -p "$RUN/ctl/$1"; mkfifo -m 0666 "$RUN/ctl/$1/in"; chmod 0777 "$RUN/ctl/$1"
  cat >"$RUN/$1.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: default
  annotations:
    k8s.v1.cni.cncf.io/networks: dpdk-a,dpdk-b
spec:
  securityContext: {runAsUser: 10001, runAsGroup: 10001}
  containers:
  - name: testpmd
    image: $IMAGE
    # The agent is the process (exec); testpmd is driven through a FIFO and its output
    # line-buffered (coreutils' stdbuf preload) for the statistics to be read as printed.
    command: ["/bin/sh", "-c", "cat /proc/self/mountinfo >/ctl/mountinfo; exec userspace-agent testpmd --interactive --forward-mode $2 --file-prefix $1 </ctl/in >/ctl/out 2>&1"]
    env:
    - {name: USERSPACE_LOG, value: info}
    - {name: LD_PRELOAD, value: /usr/libexec/coreutils/libstdbuf.so}
    - {name: _STDBUF_O, value: L}
    securityContext: {allowPrivilegeEscalation: false}
    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: shared-dir, mountPath: /var/lib/cni/usrspcni}
    - {name: ctl, mountPath: /ctl}
  volumes:
  - {name: shared-dir, emptyDir: {}}
  - name: podinfo
    downwardAPI: {items: [{path: annotations, fieldRef: {fieldPath: metadata.annotations}}]}
  - {name: ctl, hostPath: {path: $RUN/ctl/$1}}
YAML
}
pod_run() { # pod_run NAME: kubelet-like start, then wait for testpmd's prompt
  "${NODE[@]}" run-pod "${NODEARGS[@]}" "$RUN/$1.yaml" >"$RUN/$1.started"
  local fd; exec {fd}>"$RUN/ctl/$1/in"; eval "FD_$1=\$fd"
  local i; for i in $(seq 1 300); do grep -q "testpmd> " "$RUN/ctl/$1/out" 2>/dev/null && break; sleep 0.2; done
  grep -q "testpmd> " "$RUN/ctl/$1/out" || { echo "pod $1's testpmd did not start:"; strip "$RUN/ctl/$1/out" | tail -20; tail -20 "$RUN/plugin.log"; exit 1; }
  eval "SB_$1=$(jq -r .sandbox "$RUN/$1.started")"
}
send() { local v="FD_$1"; echo "$2" >&"${!v}"; }
out_file() { echo "$RUN/ctl/$1/out"; }
close() { local v="FD_$1"; eval "exec ${!v}>&-"; }
stat_of() { # stat_of NAME PORT RX|TX: the latest counter printed by `show port stats all`
  strip "$RUN/ctl/$1/out" | awk -v p="NIC statistics for port $2 " -v k="$3-packets:" 'index($0,p){f=1} f&&$1==k{v=$2; f=0} END{print v}'
}
ports_up() { # ports_up NAME...: waits (up to 30 s) until OVS reports the pods' ports up
  local i p ok sb
  for i in $(seq 1 150); do
    ok=yes
    for p in "$@"; do
      sb="SB_$p"
      for n in net1 net2; do [ "$(vsctl get Interface "${!sb:0:12}-$n" link_state 2>/dev/null)" = up ] || ok=no; done
    done
    if [ $ok = yes ]; then for p in "$@"; do links_up "$p"; done; return 0; fi
    sleep 0.2
  done
  echo "  (the switch did not report every port up within 30 s)"
}
counters() { # counters SENDER: shows and prints the sender's four counters
  cmd "$1" "show port stats all"
  echo "$(stat_of "$1" 0 TX) $(stat_of "$1" 1 RX) $(stat_of "$1" 1 TX) $(stat_of "$1" 0 RX)"
}
round() { # round SENDER: counted bursts both ways through FWD; sets A_TX A_RX B_TX B_RX
  cmd "$1" "clear port stats all"; cmd fwd "clear port stats all"
  cmd "$1" "start tx_first 8"
  until_settled counters "$1"
  cmd "$1" "stop"
  A_TX=$(stat_of "$1" 0 TX); B_RX=$(stat_of "$1" 1 RX); B_TX=$(stat_of "$1" 1 TX); A_RX=$(stat_of "$1" 0 RX)
}
exact() { [ "${A_TX:-0}" = 256 ] && [ "${B_RX:-0}" = 256 ] && [ "${B_TX:-0}" = 256 ] && [ "${A_RX:-0}" = 256 ]; }
report() { echo "  $1: net1 sent ${A_TX:-?} -> net2 received ${B_RX:-?}; net2 sent ${B_TX:-?} -> net1 received ${A_RX:-?}"; }
round_until_whole() { # after a restart, link up precedes every queue being enabled again
  local try
  for try in 1 2 3 4 5; do round "$1"; exact && break; sleep 2; done # 2 s between tries
  TRIES=$try
}

step "Failure path: pod FWD's second network has no NetworkAttachmentDefinition yet"
nad dpdk-a br-a 10.99.1.0/24
pod_manifest fwd io
if "${NODE[@]}" run-pod "${NODEARGS[@]}" "$RUN/fwd.yaml" >/dev/null 2>"$RUN/fail.log"; then
  echo "  RunPodSandbox succeeded without dpdk-b"; exit 1
fi
echo "  RunPodSandbox failed: $(grep -o 'failed to setup network[^;]*' "$RUN/fail.log" | head -1 | cut -c1-150)…"
echo "    ($(grep -o 'cannot find a network-attachment-definition ([^)]*) in namespace ([^)]*)' "$RUN/fail.log" | head -1))"
count() { local n; n=$(find "$@" 2>/dev/null | wc -l) || true; echo "$n"; } # missing dirs count 0
FAIL_LEFT=$(( $(vsctl --columns=name list Port 2>/dev/null | grep -c name || true) + $(count "$RUN/state" -name '*.json') + $(count "$RUN/ipam" -name '10.*') + $(cri_ctr containers ls -q | wc -l) ))
echo "  left behind by the failed ADD (ports, state files, leases, containers): $FAIL_LEFT"
nad dpdk-b br-b 10.99.2.0/24
echo "  dpdk-b created; kubelet's retry:"

step "Pod FWD (two interfaces, testpmd io net1<->net2) and pod SND (sender, rxonly)"
pod_run fwd
cmd fwd start
pod_manifest snd rxonly
pod_run snd
for p in fwd snd; do
  sb="SB_$p"
  echo "  pod ${p^^}: sandbox ${!sb:0:12}, uid $(jq -r .uid "$RUN/$p.started")"
  "${NODE[@]}" get-pod --kubeconfig "$RUN/kubeconfig" "$p" |
    jq -r '.metadata.annotations["k8s.v1.cni.cncf.io/network-status"] | fromjson | .[] | "    network-status: \(.name) \(.interface) ip \(.ips[0]) mac \(.mac)\(if .default then " (default)" else "" end) device-info \(."device-info".type // "-")"'
done
echo "  pod FWD's network-status as multus-harness PUT it: $("${NODE[@]}" get-pod --kubeconfig "$RUN/kubeconfig" fwd | jq -r '.metadata.annotations["k8s.v1.cni.cncf.io/network-status"]' | head -c 100 | tr '\n' '~' | sed 's/~/\\n/g')…"
echo "  pod FWD's agent found its sandbox in mountinfo: $(grep -c "io.containerd.grpc.v1.cri/sandboxes/$SB_fwd/hostname /etc/hostname" "$RUN/ctl/fwd/mountinfo") line(s); ran: $(strip "$RUN/ctl/fwd/out" | grep -o 'line=.*' | head -1 | cut -c6- | cut -c1-200)…"
FWD_DIR=$RUN/kubelet/pods/$(jq -r .uid "$RUN/fwd.started")/volumes/kubernetes.io~empty-dir/shared-dir
echo "  pod FWD's shared-dir emptyDir: $(ls "$FWD_DIR" | tr '\n' ' ')"
echo "  br-a: $(vsctl list-ports br-a | tr '\n' ' ')  br-b: $(vsctl list-ports br-b | tr '\n' ' ')"

step "Traffic: SND sends 8 bursts of 32 on each port; FWD forwards them back"
ports_up fwd snd
round snd
report "first round"
OK=$(exact && echo yes || echo no)

step "Restart ovs-vswitchd while both pods run; traffic resumes on both ports"
spin "ovs-vswitchd restart" cri_node bash -c "source $PWD/scripts/lib/ovs-dpdk.sh; ovs_vswitchd_restart '$RUN/ovs'"
ports_up fwd snd
round_until_whole snd
report "after the restart (round $TRIES)"
exact || OK=no

step "Remove pod SND (StopPodSandbox + RemovePodSandbox: CNI DEL twice); FWD is untouched"
send snd quit; close snd
"${NODE[@]}" remove-pod "${NODEARGS[@]}" snd
FWD_SOCKS=$(find "$FWD_DIR" -type s | wc -l)
FWD_PORTS=$(vsctl list-ports br-a | grep -c "^${SB_fwd:0:12}-" || true)$(vsctl list-ports br-b | grep -c "^${SB_fwd:0:12}-" || true)
echo "  pod FWD's sockets: $FWD_SOCKS, its ports on br-a/br-b: ${FWD_PORTS:0:1}/${FWD_PORTS:1:1}, all ports: $(vsctl list-ports br-a | wc -l)/$(vsctl list-ports br-b | wc -l)"
pod_manifest snd2 rxonly
pod_run snd2
ports_up fwd snd2
round_until_whole snd2
report "new sender SND2 (round $TRIES)"
exact || OK=no
[ "$FWD_SOCKS$FWD_PORTS" = 211 ] || OK=no
cp "$RUN/ctl/fwd/mountinfo" "$RUN/fwd.mountinfo"

step "Remove the pods; residue check"
for p in snd2 fwd; do send "$p" quit; close "$p"; "${NODE[@]}" remove-pod "${NODEARGS[@]}" "$p"; done
CONTAINERS=$(( $(cri_ctr containers ls -q | wc -l) + $(cri_ctr tasks ls -q | wc -l) ))
PORTS=$(vsctl --columns=name list Port | grep -c name || true)
DELS=$(grep -c 'verb=DEL' "$RUN/plugin.log" || true)
STATUS_PUTS=$(grep -c -E 'PUT /api/v1/namespaces/default/pods/(fwd|snd|snd2)/status' "$RUN/api.log" || true)
cri_node bash -c "source $PWD/scripts/lib/ovs-dpdk.sh; ovs_stop '$RUN/ovs'"
NODE_MOUNTS=$(grep -c -E "kubernetes.io~|vhost_sockets|$RUN/alias|$RUN/ctl" "/proc/$CRI_HOLDER/mounts" || true) # not the node's own binds
LEASES=$(count "$RUN/ipam" -name '10.*')
# Multus' cache keeps its results directory, as libcni does; no file may stay in it.
FILES=$(( $(count "$RUN/kubelet/pods" "$RUN/logs" "$RUN/devinfo" "$RUN/alias" -mindepth 1) + $(count "$RUN/multus-cache" -type f) + NODE_MOUNTS ))
STATE=$(count "$RUN/state" -name '*.json')
NETNS=$(count "$RUN/c/state/io.containerd.grpc.v1.cri/netns" -mindepth 1)
cri_stop "$RUN/c"; CRI_HOLDER=""
kill "$API_PID"; API_PID=""
VETHS=$(( $(ip -o link show type veth | wc -l) - VETHS_BEFORE ))
HOST_MOUNTS=$(grep -c -E "$RUN|/var/lib/kubelet|/var/lib/vhost_sockets" /proc/mounts || true)
HUGE=$(( $(ls /dev/hugepages | grep -c -E '^(fwd|snd|ovsdemo)' || true) + $(ls /var/run/dpdk 2>/dev/null | grep -c -E '^(fwd|snd|ovsdemo)' || true) ))
HOST_DIRS=$(ls -d /var/lib/cni /var/lib/kubelet /var/lib/vhost_sockets 2>/dev/null || true)
echo "  CNI DELs of the userspace plugin (delegated by multus-harness): $DELS; network-status written by PUT …/status: $STATUS_PUTS"
echo "  sandboxes+containers+tasks left in ctr -n k8s.io: $CONTAINERS, OVS ports left: $PORTS, leases left: $LEASES"
echo "  shared-dir/kubelet/log/cache entries and node mounts left: $FILES, state files left: $STATE, netns left: $NETNS"
echo "  host veths left (cluster network): $VETHS, host mounts left: $HOST_MOUNTS, hugepage and /var/run/dpdk files left: $HUGE, host dirs made and left: $([ "$HOST_DIRS" = "$HOST_DIRS_BEFORE" ] && echo 0 || echo "$HOST_DIRS")"
[ -n "${MOUNTINFO_OUT:-}" ] && cp "$RUN/fwd.mountinfo" "$MOUNTINFO_OUT"

if [ "$OK" = yes ] && [ "$FAIL_LEFT$CONTAINERS$PORTS$LEASES$FILES$STATE$NETNS$VETHS$HOST_MOUNTS$HUGE" = 0000000000 ] &&
   [ "$HOST_DIRS" = "$HOST_DIRS_BEFORE" ] && [ "$DELS" -ge 6 ] && [ "$STATUS_PUTS" -ge 3 ]; then
  step "OK (containerd CRI, two-port pod): 256 each way through OVS-DPDK, again after an ovs-vswitchd restart and after removing the other pod; nothing left behind"
else
  step "FAILED"; for p in fwd snd snd2; do echo "--- pod $p"; strip "$RUN/ctl/$p/out" 2>/dev/null | tail -30; done
  echo "--- plugin log"; tail -30 "$RUN/plugin.log"; echo "--- multus log"; tail -20 "$RUN/multus.log"; exit 1
fi
