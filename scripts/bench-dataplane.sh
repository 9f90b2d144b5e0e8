#!/usr/bin/env bash
# Data-plane benchmark: Mpps through a private OVS-DPDK switch with the agent-built testpmd
# line, against a hand-tuned line for the same topology and the direct virtio_user<->vhost
# ceiling (no switch), all in the same run. On a 2-core machine two busy-polling pods plus the
# switch's PMD starve each other, so (as recipes.md advises) one testpmd process loops both of a
# pod's ports through the switch: port 0 -> OVS -> port 1 -> OVS -> port 0.
# Cores: the OVS PMD thread owns CPU 1; the pod gets CPU 0 (the agent runs under `taskset -c 0`,
# so it builds a one-CPU line: main and forwarding lcores on CPU 0, the main lcore idling at the
# prompt); the hand-tuned and ceiling lines use the same single CPU. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ovs-dpdk.sh
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
RUN=$(mktemp -d /tmp/usbench.XXXX)
SHARED=/var/lib/cni/usrspcni-bench
BIN=target/release
cleanup() { set +e; pkill -f 'file-prefix=bench-' ; ovs_stop "$RUN/ovs"; rm -rf "$RUN" /var/run/dpdk/bench-*; rmdir "$SHARED" 2>/dev/null; }
trap cleanup EXIT

bash scripts/setup-host.sh >/dev/null
cargo build --release -q -p userspace -p userspace-agent
ovs_start "$RUN/ovs" >/dev/null 2>&1

CONF=$(cat <<JSON
{"cniVersion": "1.0.0", "name": "bench-net", "type": "userspace",
 "ovsdbSocket": "unix:$RUN/ovs/db.sock", "sharedDir": "$SHARED", "stateDir": "$RUN/state",
 "host": {"engine": "ovs-dpdk", "iftype": "vhostuser", "netType": "bridge",
          "vhost": {"mode": "client"}, "bridge": {"bridgeName": "br-bench"}},
 "ipam": {"type": "host-local", "subnet": "10.98.0.0/24", "dataDir": "$RUN/ipam"}}
JSON
)
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for ifn in net1 net2; do
  CNI_COMMAND=ADD CNI_CONTAINERID=$ID CNI_IFNAME=$ifn CNI_NETNS=/var/run/netns/bench CNI_PATH=/usr/lib/cni \
    "$BIN/userspace" <<<"$CONF" >/dev/null
done
# Port-to-port flows, as for a service chain (NORMAL learning would flood the generated frames).
ofport() { # waits until ovs-vswitchd has numbered the port
  local p i
  for i in $(seq 1 100); do
    p=$(ovs-vsctl --db="unix:$RUN/ovs/db.sock" get Interface "$1" ofport)
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -gt 0 ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "ovs-vswitchd never numbered port $1" >&2; return 1
}
P1=$(ofport "${ID:0:12}-net1")
P2=$(ofport "${ID:0:12}-net2")
ovs-ofctl del-flows "unix:$RUN/ovs/br-bench.mgmt"
ovs-ofctl add-flow "unix:$RUN/ovs/br-bench.mgmt" "in_port=$P1,actions=output:$P2"
ovs-ofctl add-flow "unix:$RUN/ovs/br-bench.mgmt" "in_port=$P2,actions=output:$P1"

strip() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g'; }
# measure CMD...: runs an interactive testpmd, starts io forwarding with a first burst, and after
# SECONDS_PER_RUN reads the Rx-pps of every port ("throughput since last show"); prints Mpps.
measure() {
  local out=$RUN/m.out
  ( sleep 4; echo "start tx_first 64"; sleep 2; echo "show port stats all"; sleep "$SECONDS_PER_RUN";
    echo "show port stats all"; echo stop; echo quit ) | stdbuf -oL "$@" >"$out" 2>&1 || true
  strip <"$out" | awk '/Rx-pps:/{n++; v[n]=$2} END{s=0; for(i=n/2+1;i<=n;i++) s+=v[i]; printf "%.3f", s/1e6}'
}

AGENT=(taskset -c 0 "$BIN/userspace-agent" --container-id "$ID" --podinfo "$RUN/none" --shared-dir "$SHARED"
       testpmd --interactive --forward-mode io --huge yes --file-prefix bench-agent)
LINE=$("${AGENT[@]}" --dry-run)
AGENT_MPPS=$(measure "${AGENT[@]}")

# Hand-tuned for this topology: bigger bursts and rings, larger mbuf cache, no stats overhead.
S1=$SHARED/${ID:0:12}/${ID:0:12}-net1; S2=$SHARED/${ID:0:12}/${ID:0:12}-net2
HAND=(dpdk-testpmd --lcores=0@0,1@0 --main-lcore 0 -m 512 --in-memory --single-file-segments --file-prefix=bench-hand --no-pci
      --vdev "net_virtio_user0,path=$S1,server=1,queues=1" --vdev "net_virtio_user1,path=$S2,server=1,queues=1"
      -- -i --forward-mode=io --nb-cores=1 --burst=64 --rxd=1024 --txd=1024 --mbcache=512 --total-num-mbufs=65536 --no-lsc-interrupt)
HAND_MPPS=$(measure "${HAND[@]}")

for ifn in net1 net2; do
  CNI_COMMAND=DEL CNI_CONTAINERID=$ID CNI_IFNAME=$ifn CNI_NETNS=/var/run/netns/bench CNI_PATH=/usr/lib/cni \
    "$BIN/userspace" <<<"$CONF" >/dev/null
done

ovs_stop "$RUN/ovs" >/dev/null 2>&1

# Ceiling: virtio_user straight to a vhost port, no switch (two processes: a vhost-user server
# cannot listen before its port starts, and a virtio_user server blocks its probe until a
# client connects, so one process cannot hold both ends). The vhost side loops packets back
# (io on one port) on CPU 1, now free of the switch; the virtio_user side is the same one-CPU
# hand-tuned line on CPU 0.
rm -f "$RUN/ceil.sock"
( sleep $((SECONDS_PER_RUN + 12)); echo quit ) | dpdk-testpmd --lcores=0@1,1@1 --main-lcore 0 -m 512 --in-memory \
  --file-prefix=bench-back --no-pci --vdev "net_vhost0,iface=$RUN/ceil.sock,client=0" \
  -- -i --auto-start --forward-mode=io --nb-cores=1 --burst=64 --rxd=1024 --txd=1024 --total-num-mbufs=65536 \
  >"$RUN/back.out" 2>&1 &
sleep 3
CEIL=(dpdk-testpmd --lcores=0@0,1@0 --main-lcore 0 -m 512 --in-memory --single-file-segments --file-prefix=bench-ceil --no-pci
      --vdev "net_virtio_user0,path=$RUN/ceil.sock,queues=1"
      -- -i --forward-mode=io --nb-cores=1 --burst=64 --rxd=1024 --txd=1024 --mbcache=512 --total-num-mbufs=65536 --no-lsc-interrupt)
CEIL_MPPS=$(measure "${CEIL[@]}")
wait

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a/b; else print "n/a" }'; }
echo "Data plane, $(date -u +%F), $(nproc) cores, ${SECONDS_PER_RUN}s per run, 64-byte frames (testpmd io, tx_first 64)"
echo "| line | Mpps (sum of both directions) | vs. hand-tuned |"
echo "|---|---|---|"
echo "| agent-built, pod <-> OVS-DPDK <-> pod (one process, 2 ports) | $AGENT_MPPS | $(ratio "$AGENT_MPPS" "$HAND_MPPS") |"
echo "| hand-tuned, same topology | $HAND_MPPS | 1.00x |"
echo "| ceiling: virtio_user <-> vhost (looped back), no switch | $CEIL_MPPS | $(ratio "$CEIL_MPPS" "$HAND_MPPS") |"
echo
echo "agent line: $LINE"
