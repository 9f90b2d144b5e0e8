#!/usr/bin/env bash
# The main demo: two pods get vhost-user interfaces on a private OVS-DPDK switch from the
# `userspace` CNI plugin; in each, `userspace-agent` finds the interface and launches
# dpdk-testpmd; pod A sends a counted burst through the switch, pod B receives it. Then
# everything is torn down and checked for residue. Needs root (sets up everything itself).
#
# The pods are plain process sandboxes here (own container ID, own shared directory,
# no container runtime): the plugin and the agent see exactly what they see in Kubernetes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ovs-dpdk.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
spin() { # spin "message" cmd... : runs a long step with a progress indicator
  local msg=$1; shift
  ( "$@" ) >"$RUN/step.log" 2>&1 &
  local pid=$! i=0 chars='|/-\'
  if [ -t 1 ]; then
    while kill -0 $pid 2>/dev/null; do printf '\r  %s %s' "${chars:i++%4:1}" "$msg"; sleep 0.2; done
  else
    printf '  ... %s\n' "$msg"
  fi
  if wait $pid; then printf '\r  done: %s\n' "$msg"; else printf '\r  FAILED: %s\n' "$msg"; cat "$RUN/step.log"; exit 1; fi
}

# HOST_VHOST_MODE=client (default): dpdkvhostuserclient ports, the pods' testpmd is the
# vhost-user server. HOST_VHOST_MODE=server: dpdkvhostuser ports, OVS creates the sockets and
# the plugin moves them into the shared directory, here on another filesystem (/dev/shm) so
# that the move is a bind mount (the EXDEV case).
HOST_VHOST_MODE=${HOST_VHOST_MODE:-client}
RUN=$(mktemp -d /tmp/usdemo.XXXX)
if [ "$HOST_VHOST_MODE" = server ]; then SHARED=/dev/shm/usrspcni-demo; else SHARED=/var/lib/cni/usrspcni-demo; fi
BIN=target/release
cleanup() { set +e; kill ${PID_a:-} ${PID_b:-} 2>/dev/null; ovs_stop "$RUN/ovs"; rm -rf "$RUN"; }
trap cleanup EXIT

step "Set-up: packages, hugepages, build"
spin "packages and hugepages (scripts/setup-host.sh)" bash scripts/setup-host.sh
spin "cargo build --release (plugin and agent)" cargo build --release -q -p userspace -p userspace-agent

step "Start a private OVS-DPDK switch"
spin "ovsdb-server + ovs-vswitchd with DPDK (2 MiB hugepages, PMD on CPU 1)" ovs_start "$RUN/ovs"
echo "  OVSDB at unix:$RUN/ovs/db.sock"

CONF=$(cat <<JSON
{"cniVersion": "1.0.0", "name": "demo-net", "type": "userspace",
 "ovsdbSocket": "unix:$RUN/ovs/db.sock", "sharedDir": "$SHARED", "stateDir": "$RUN/state",
 "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
          "vhost": {"mode": "$HOST_VHOST_MODE"}, "bridge": {"bridgeName": "br-demo"}},
 "ipam": {"type": "host-local", "subnet": "10.99.0.0/24", "dataDir": "$RUN/ipam"}}
JSON
)
cni() { # cni VERB ID
  CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_IFNAME=net1 CNI_NETNS=/var/run/netns/demo CNI_PATH=/usr/lib/cni \
    "$BIN/userspace" <<<"$CONF"
}

ID_A=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'); ID_B=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
step "CNI ADD for pod A and pod B (the plugin, as kubelet/Multus would call it)"
for p in A B; do
  id_var=ID_$p; id=${!id_var}
  res=$(cni ADD "$id")
  echo "  pod $p (${id:0:12}): $(jq -c '{ip: .ips[0].address, mac: .interfaces[0].mac}' <<<"$res" 2>/dev/null || echo "$res")"
done
echo "  switch: $(ovs-vsctl --db="unix:$RUN/ovs/db.sock" list-ports br-demo | tr '\n' ' ')(type $(ovs-vsctl --db="unix:$RUN/ovs/db.sock" get Interface "${ID_A:0:12}-net1" type))"

agent() { # agent ID args... : the agent as each pod runs it, pointed at that pod's shared dir
  local id=$1; shift
  stdbuf -oL "$BIN/userspace-agent" --container-id "$id" --podinfo "$RUN/none" --shared-dir "$SHARED" "$@"
}

step "What the agent in pod A sees"
agent "$ID_A" inspect | sed 's/^/  /'

step "Traffic: pod B receives (rxonly), pod A sends 8 bursts of 32 (tx_first)"
echo "  pod A runs: $(agent "$ID_A" testpmd --dry-run --interactive --forward-mode io --file-prefix demo-a)"
strip() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1"; }
pod_start() { # pod_start NAME ID FORWARD-MODE: the pod's agent-built testpmd, driven through a FIFO
  mkfifo "$RUN/$1.in"
  agent "$2" testpmd --interactive --forward-mode "$3" --file-prefix "demo-$1" <"$RUN/$1.in" >"$RUN/$1.out" 2>&1 &
  eval "PID_$1=\$!"
  local fd; exec {fd}>"$RUN/$1.in"; eval "FD_$1=\$fd"
  local i; for i in $(seq 1 150); do grep -q "testpmd> " "$RUN/$1.out" && return 0; sleep 0.2; done
  echo "pod $1's testpmd did not start:"; strip "$RUN/$1.out" | tail -20; exit 1
}
send() { local v="FD_$1"; echo "$2" >&"${!v}"; }
last() { # last NAME RX|TX: the latest port-0 counter printed by `show port stats all`
  strip "$RUN/$1.out" | awk -v k="$2-packets:" '/NIC statistics for port 0/{f=1} f&&$1==k{v=$2; f=0} END{print v}'
}
ports_up() { # waits (up to 30 s) until OVS reports both pods' vhost-user ports up
  local i p ok
  for i in $(seq 1 150); do
    ok=yes
    for p in "${ID_A:0:12}-net1" "${ID_B:0:12}-net1"; do
      [ "$(ovs-vsctl --db="unix:$RUN/ovs/db.sock" get Interface "$p" link_state 2>/dev/null)" = up ] || ok=no
    done
    [ $ok = yes ] && { sleep 0.5; return 0; }
    sleep 0.2
  done
  echo "  (the switch did not report both ports up within 30 s)"
}
round() { # one counted burst from A to B; sets SENT and RECV
  send a "clear port stats all"; send b "clear port stats all"; sleep 0.5
  send a "start tx_first 8"; sleep 3
  send a "show port stats all"; send b "show port stats all"; sleep 1
  send a "stop"; sleep 0.5
  SENT=$(last a TX); RECV=$(last b RX)
}
pod_start b "$ID_B" rxonly
send b start
pod_start a "$ID_A" io
ports_up # OVS connects to the pods' vhost-user sockets (or they to OVS's)
round
echo "  pod A sent:     ${SENT:-?} packets"
echo "  pod B received: ${RECV:-?} packets (through br-demo)"
OK=$([ "${SENT:-0}" = 256 ] && [ "${RECV:-0}" = 256 ] && echo yes || echo no)

if [ "$HOST_VHOST_MODE" = client ]; then
  step "Restart ovs-vswitchd while both pods run; traffic resumes (dpdkvhostuserclient ports reconnect)"
  spin "ovs-vswitchd restart" ovs_vswitchd_restart "$RUN/ovs"
  ports_up # the restarted switch reconnects to the pods' sockets
  # Link up comes before every queue is enabled again: count bursts until one arrives whole.
  for try in 1 2 3 4 5; do
    # With --no-lsc-interrupt, virtio_user (server mode) takes the switch's new connection when
    # its link status is read.
    send a "show port info all"; send b "show port info all"; sleep 1
    round
    [ "${RECV:-0}" = 256 ] && break
    sleep 2
  done
  echo "  after the restart: pod A sent ${SENT:-?}, pod B received ${RECV:-?} (burst $try)"
  [ "${SENT:-0}" = 256 ] && [ "${RECV:-0}" = 256 ] || OK=no
fi
send b stop; send a quit; send b quit
exec {FD_a}>&- {FD_b}>&-
wait "$PID_a" "$PID_b" || true; PID_a= PID_b=

step "CNI DEL for both pods, switch stopped; residue check"
cni DEL "$ID_A"; cni DEL "$ID_B"
PORTS=$(ovs-vsctl --db="unix:$RUN/ovs/db.sock" --columns=name list Port | grep -c name || true)
ovs_stop "$RUN/ovs"
LEASES=$(ls "$RUN/ipam/demo-net" 2>/dev/null | grep -c '^10\.' || true)
FILES=$(( $(find "$SHARED" -mindepth 1 2>/dev/null | wc -l) + $(grep -c "$SHARED" /proc/mounts || true) ))
HUGE=$(ls /dev/hugepages | grep -c -E '^(demo-|ovsdemo)' || true)
echo "  OVS ports left: $PORTS, leases left: $LEASES, shared-dir entries and mounts left: $FILES, hugepage files left: $HUGE"
rmdir "$SHARED" 2>/dev/null || true
rm -rf /var/run/dpdk/demo-a /var/run/dpdk/demo-b

if [ "$OK" = yes ] && [ "$PORTS$LEASES$FILES$HUGE" = 0000 ]; then
  step "OK ($HOST_VHOST_MODE mode on the host): 256 sent, 256 received through OVS-DPDK$([ "$HOST_VHOST_MODE" = client ] && echo ', again after an ovs-vswitchd restart'), nothing left behind"
else
  step "FAILED"; echo "--- pod A"; strip "$RUN/a.out" | tail -40; echo "--- pod B"; strip "$RUN/b.out" | tail -40; exit 1
fi
