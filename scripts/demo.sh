#!/usr/bin/env bash
# The main demo: two containers, started by podman on a CNI network of type `userspace`, get
# vhost-user interfaces on a private OVS-DPDK switch; in each, `userspace-agent` (the image's
# entrypoint) finds the interface and launches dpdk-testpmd; pod A sends a counted burst
# through the switch, pod B receives it; then a short throughput run. Everything is torn down
# and checked for residue. Needs root; sets up everything itself (packages, hugepages, images,
# switch).
#
# HOST_VHOST_MODE=client (default): dpdkvhostuserclient ports, the pods' testpmd is the
# vhost-user server; ovs-vswitchd is restarted mid-way and traffic must resume.
# HOST_VHOST_MODE=server: dpdkvhostuser ports, OVS creates the sockets and the plugin moves
# them into the shared directory, here on another filesystem (/dev/shm) so that the move is a
# bind mount (the EXDEV case).
#
# `scripts/demo.sh containerd`: the same on a Kubernetes node for real (containerd's CRI driven
# like kubelet, Multus' delegation, a two-port pod); see scripts/lib/containerd-demo.sh.
# `scripts/demo.sh two-nodes`: pods on two nodes through OVN (host.engine: ovn); see
# scripts/lib/two-nodes-demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = containerd ] && exec bash scripts/lib/containerd-demo.sh
[ "${1:-}" = two-nodes ] && exec bash scripts/lib/two-nodes-demo.sh
source scripts/lib/ovs-dpdk.sh
source scripts/lib/testpmd-ctl.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
spin() { # spin "message" cmd... : runs a long step with a progress indicator
  local msg=$1; shift
  local t0=$SECONDS
  ( "$@" ) >"$RUN/step.log" 2>&1 &
  local pid=$! i=0 chars='|/-\'
  if [ -t 1 ]; then
    while kill -0 $pid 2>/dev/null; do printf '\r  %s %s (%ds)' "${chars:i++%4:1}" "$msg" $((SECONDS - t0)); sleep 0.2; done
  else
    printf '  ... %s\n' "$msg"
  fi
  if wait $pid; then printf '\r  done: %s (%ds)\033[K\n' "$msg" $((SECONDS - t0)); else printf '\r  FAILED: %s\n' "$msg"; cat "$RUN/step.log"; exit 1; fi
}

HOST_VHOST_MODE=${HOST_VHOST_MODE:-client}
RUN=$(mktemp -d /tmp/usdemo.XXXX)
if [ "$HOST_VHOST_MODE" = server ]; then SHARED=/dev/shm/usrspcni-demo; else SHARED=/var/lib/cni/usrspcni-demo; fi
IMAGE=localhost/userspace-cni/testpmd:latest
GROUP=usrspcni-demo
# podman with the CNI network backend, calling the plugin from target/release.
cat >"$RUN/containers.conf" <<TOML
[network]
network_backend = "cni"
cni_plugin_dirs = ["$PWD/target/release", "/usr/lib/cni"]
network_config_dir = "$RUN/net"
TOML
PODMAN=(env CONTAINERS_CONF="$RUN/containers.conf" podman --runtime /usr/sbin/runc)
cleanup() {
  set +e
  for p in a b; do "${PODMAN[@]}" rm -f -t 0 "demo-$p" >/dev/null 2>&1; done
  ovs_stop "$RUN/ovs"; [ -n "${DEMO_KEEP:-}" ] && echo "kept $RUN" || rm -rf "$RUN"
}
trap cleanup EXIT

step "Set-up: packages, hugepages, build, images"
spin "packages and hugepages (scripts/setup-host.sh)" bash scripts/setup-host.sh
spin "cargo build --release (plugin and agent)" cargo build --release -q -p userspace -p userspace-agent
spin "testpmd image (scripts/build-images.sh: debootstrap base, podman build)" bash scripts/build-images.sh --only testpmd
echo "  image: $IMAGE ($("${PODMAN[@]}" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), user $("${PODMAN[@]}" image inspect -f '{{.Config.User}}' "$IMAGE"), entrypoint userspace-agent)"

step "Start a private OVS-DPDK switch"
spin "ovsdb-server + ovs-vswitchd with DPDK (2 MiB hugepages, PMD on CPU 1)" ovs_start "$RUN/ovs"
echo "  OVSDB at unix:$RUN/ovs/db.sock"
vsctl() { ovs-vsctl --db="unix:$RUN/ovs/db.sock" "$@"; }

# The pods run as a non-root user; the plugin gives this group the shared directory and the
# sockets (host.vhost.group), and the containers get it as a supplementary group.
mkdir -p "$SHARED"
groupadd -f "$GROUP"; GID=$(getent group "$GROUP" | cut -d: -f3)
mkdir -p "$RUN/net"
cat >"$RUN/net/demo-net.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "demo-net", "plugins": [
 {"type": "userspace", "ovsdbSocket": "unix:$RUN/ovs/db.sock", "sharedDir": "$SHARED",
  "stateDir": "$RUN/state", "logFile": "$RUN/plugin.log", "logLevel": "info",
  "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
           "vhost": {"mode": "$HOST_VHOST_MODE", "group": "$GROUP"}, "bridge": {"bridgeName": "br-demo"}},
  "ipam": {"type": "host-local", "subnet": "10.99.0.0/24", "dataDir": "$RUN/ipam"}}]}
JSON

strip() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1"; }
# pod_start NAME FORWARD-MODE: podman runs the image on CPU 0 (the switch's PMD has CPU 1; the
# agent fits testpmd's two lcores onto the one CPU); the agent execs testpmd, driven through a
# FIFO. testpmd's stdout is a pipe here, so coreutils' stdbuf preload makes it line-buffered
# (what `stdbuf -oL` does) for the statistics to be read as they are printed.
pod_start() {
  mkfifo "$RUN/$1.in"
  "${PODMAN[@]}" run --rm -i --name "demo-$1" --network demo-net --group-add "$GID" --cpuset-cpus 0 \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    -v "$SHARED:/var/lib/cni/usrspcni" -e USERSPACE_LOG=info \
    -e LD_PRELOAD=/usr/libexec/coreutils/libstdbuf.so -e _STDBUF_O=L \
    "$IMAGE" testpmd --interactive --forward-mode "$2" --file-prefix "demo-$1" \
    <"$RUN/$1.in" >"$RUN/$1.out" 2>&1 &
  eval "PID_$1=\$!"
  local fd; exec {fd}>"$RUN/$1.in"; eval "FD_$1=\$fd"
  local i; for i in $(seq 1 300); do grep -q "testpmd> " "$RUN/$1.out" && break; sleep 0.2; done
  grep -q "testpmd> " "$RUN/$1.out" || { echo "pod $1's testpmd did not start:"; strip "$RUN/$1.out" | tail -20; tail -20 "$RUN/plugin.log"; exit 1; }
  local id; id=$("${PODMAN[@]}" inspect -f '{{.Id}}' "demo-$1")
  eval "ID_$1=$id"
}
send() { local v="FD_$1"; echo "$2" >&"${!v}"; }
out_file() { echo "$RUN/$1.out"; }
last() { # last NAME RX|TX: the latest port-0 counter printed by `show port stats all`
  strip "$RUN/$1.out" | awk -v k="$2-packets:" '/NIC statistics for port 0/{f=1} f&&$1==k{v=$2; f=0} END{print v}'
}
last_pps() { strip "$RUN/$1.out" | awk -v k="$2-pps:" '$1==k{v=$2} END{print v}'; } # last_pps NAME Rx|Tx
ports_up() { # waits (up to 30 s) until OVS reports both pods' vhost-user ports up
  local i p ok
  for i in $(seq 1 150); do
    ok=yes
    for p in "${ID_a:0:12}-eth0" "${ID_b:0:12}-eth0"; do
      [ "$(vsctl get Interface "$p" link_state 2>/dev/null)" = up ] || ok=no
    done
    [ $ok = yes ] && { links_up a; links_up b; return 0; }
    sleep 0.2
  done
  echo "  (the switch did not report both ports up within 30 s)"
}
counters() { cmd a "show port stats all"; cmd b "show port stats all"; echo "$(last a TX) $(last b RX)"; }
round() { # one counted burst from A to B; sets SENT and RECV
  cmd a "clear port stats all"; cmd b "clear port stats all"
  cmd a "start tx_first 8"
  until_settled counters
  cmd a "stop"
  SENT=$(last a TX); RECV=$(last b RX)
}

step "podman starts pod B and pod A on network demo-net (CNI ADD by podman, agent as entrypoint)"
pod_start b rxonly
cmd b start
pod_start a io
for p in a b; do
  id_var=ID_$p; id=${!id_var}
  view=$("${PODMAN[@]}" exec "demo-$p" userspace-agent inspect --json)
  echo "  pod ${p^^} (container ${id:0:12}): $(jq -c '.interfaces[0] | {if: .name, ip: .ips.value[0], mac: .mac.value, role: .role.value}' <<<"$view")"
  echo "    socket in the pod: $(jq -r '.interfaces[0].socket_path.value' <<<"$view")"
done
echo "  switch br-demo: $(vsctl list-ports br-demo | tr '\n' ' ')(type $(vsctl get Interface "${ID_a:0:12}-eth0" type))"
echo "  pod A's agent ran: $(strip "$RUN/a.out" | grep -o 'line=.*' | head -1 | cut -c6-)"
echo "  agent start to exec in pod A: $(strip "$RUN/a.out" | grep -o 'elapsed_us=[0-9]*' | head -1 | cut -d= -f2) µs, peak RSS $(strip "$RUN/a.out" | grep -o 'peak_rss_kib=[0-9]*' | head -1 | cut -d= -f2) KiB"

step "Traffic: pod B receives (rxonly), pod A sends 8 bursts of 32 (tx_first)"
ports_up # OVS connects to the pods' vhost-user sockets (or they to OVS's)
round
echo "  pod A sent:     ${SENT:-?} packets"
echo "  pod B received: ${RECV:-?} packets (through br-demo)"
OK=$([ "${SENT:-0}" = 256 ] && [ "${RECV:-0}" = 256 ] && echo yes || echo no)

if [ "$HOST_VHOST_MODE" = client ]; then
  step "Restart ovs-vswitchd while both pods run; traffic resumes (dpdkvhostuserclient ports reconnect)"
  spin "ovs-vswitchd restart" ovs_vswitchd_restart "$RUN/ovs"
  ports_up # the restarted switch reconnects to the pods' sockets (virtio_user on its LSC interrupt)
  # Link up comes before every queue is enabled again: count bursts until one arrives whole.
  for try in 1 2 3 4 5; do
    round
    [ "${RECV:-0}" = 256 ] && break
    sleep 2 # the interval between tries, not a wait for a condition
  done
  echo "  after the restart: pod A sent ${SENT:-?}, pod B received ${RECV:-?} (burst $try)"
  [ "${SENT:-0}" = 256 ] && [ "${RECV:-0}" = 256 ] || OK=no
fi

step "Throughput: pod A txonly for 5 s, pod B counts"
cmd a "set fwd txonly"; cmd a start; sleep 1 # warm-up
cmd a "show port stats all"; cmd b "show port stats all"; sleep 5 # the measured window
cmd a "show port stats all"; cmd b "show port stats all"
cmd a stop
RX_PPS=$(last_pps b Rx); TX_PPS=$(last_pps a Tx)
mpps() { awk -v p="${1:-0}" 'BEGIN{printf "%.2f", p/1e6}'; }
echo "  pod A offered $(mpps "$TX_PPS") Mpps, pod B received $(mpps "$RX_PPS") Mpps (64-byte frames)"
echo "  (two busy-polling pods share CPU 0 here, so B drains its ring only in its time slices;"
echo "   scripts/bench-dataplane.sh measures the switch path with one pod process per CPU)"

step "Stop the pods: podman removes the containers (CNI DEL by podman); residue check"
send b stop; send a quit; send b quit
exec {FD_a}>&- {FD_b}>&-
wait "$PID_a" "$PID_b" || true
CONTAINERS=$("${PODMAN[@]}" ps -a --filter name=demo- --format '{{.Names}}' | wc -l)
PORTS=$(vsctl --columns=name list Port | grep -c name || true)
DELS=$(grep -c 'verb=DEL' "$RUN/plugin.log" || true)
ovs_stop "$RUN/ovs"
LEASES=$(ls "$RUN/ipam/demo-net" 2>/dev/null | grep -c '^10\.' || true)
FILES=$(( $(find "$SHARED" -mindepth 1 2>/dev/null | wc -l) + $(grep -c "$SHARED" /proc/mounts || true) ))
STATE=$(find "$RUN/state" -name '*.json' 2>/dev/null | wc -l)
HUGE=$(( $(ls /dev/hugepages | grep -c -E '^(demo-|ovsdemo)' || true) + $(ls /var/run/dpdk 2>/dev/null | grep -c -E '^(demo-|ovsdemo)' || true) ))
echo "  CNI DELs run by podman: $DELS"
echo "  containers left: $CONTAINERS, OVS ports left: $PORTS, leases left: $LEASES, shared-dir entries and mounts left: $FILES, state files left: $STATE, hugepage and /var/run/dpdk files left: $HUGE"
rmdir "$SHARED" 2>/dev/null || true

if [ "$OK" = yes ] && [ "$CONTAINERS$PORTS$LEASES$FILES$STATE$HUGE" = 000000 ] && [ "$DELS" -ge 2 ]; then
  step "OK ($HOST_VHOST_MODE mode on the host): 256 sent, 256 received through OVS-DPDK$([ "$HOST_VHOST_MODE" = client ] && echo ', again after an ovs-vswitchd restart'), nothing left behind"
else
  step "FAILED"; echo "--- pod A"; strip "$RUN/a.out" | tail -40; echo "--- pod B"; strip "$RUN/b.out" | tail -40
  echo "--- plugin log"; tail -30 "$RUN/plugin.log"; exit 1
fi
