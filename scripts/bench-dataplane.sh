#!/usr/bin/env bash
# Data-plane benchmark: Mpps of 64-byte frames for four lines, alternated in ROUNDS rounds
# (A B B' C D A B B' C D …) so that a slow moment of the shared machine hits every line alike:
#   A  the agent-built testpmd line, pod <-> private OVS-DPDK <-> pod
#   B  a hand-tuned testpmd line for the same topology, then B' the same line again: how far
#      a line moves from itself between two runs is the bench's resolution
#   C  the ceiling: virtio_user straight to a vhost port looped back, no switch
#   D  a memif pair, both ends launched by the agent (no switch)
# On a 2-core machine two busy-polling pods plus the switch's PMD starve each other, so (as
# recipes.md advises) for A and B one testpmd process loops both of a pod's ports through the
# switch: port 0 -> OVS -> port 1 -> OVS -> port 0; the OVS PMD owns CPU 1, the pod CPU 0 (the
# agent runs under `taskset -c 0`, so it builds a one-CPU line). For C and D ovs-vswitchd is
# stopped, and the second process gets CPU 1. Prints per-round values, then per line the
# median and min–max, the agent/hand-tuned ratio per round (a round whose ceiling is below a
# switched line is flagged), and one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ovs-dpdk.sh
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-5}
IN_FLIGHT=${IN_FLIGHT:-4096}
RUN=$(mktemp -d /tmp/usbench.XXXX)
SHARED=/var/lib/cni/usrspcni-bench
BIN=target/release
cleanup() { # also when a run fails or is interrupted: the attachments' DELs (idempotent) go first
  set +e; pkill -f 'file-prefix=bench-'
  if [ -n "${ID:-}" ]; then cni DEL net1; cni DEL net2; fi
  ovs_stop "$RUN/ovs"
  rm -rf "$RUN" /var/run/dpdk/bench-* /dev/hugepages/bench-*; rmdir "$SHARED" 2>/dev/null
}
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
cni() { # cni VERB IFNAME
  CNI_COMMAND=$1 CNI_CONTAINERID=$ID CNI_IFNAME=$2 CNI_NETNS=/proc/self/ns/net CNI_PATH=/usr/lib/cni \
    "$BIN/userspace" <<<"$CONF" >/dev/null
}
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cni ADD net1; cni ADD net2
ofport() { # waits until ovs-vswitchd has numbered the port
  local p i
  for i in $(seq 1 100); do
    p=$(ovs-vsctl --db="unix:$RUN/ovs/db.sock" get Interface "$1" ofport)
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -gt 0 ] && { echo "$p"; return; }
    sleep 0.1
  done
  echo "ovs-vswitchd never numbered port $1" >&2; return 1
}
flows() { # port-to-port flows, as for a service chain (NORMAL learning would flood); not kept by a restart
  local p1 p2
  p1=$(ofport "${ID:0:12}-net1"); p2=$(ofport "${ID:0:12}-net2")
  ovs-ofctl del-flows "unix:$RUN/ovs/br-bench.mgmt"
  ovs-ofctl add-flow "unix:$RUN/ovs/br-bench.mgmt" "in_port=$p1,actions=output:$p2"
  ovs-ofctl add-flow "unix:$RUN/ovs/br-bench.mgmt" "in_port=$p2,actions=output:$p1"
}
flows

strip() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g'; }
# measure CMD...: runs an interactive testpmd, starts io forwarding with IN_FLIGHT frames put
# into the loop (`start tx_first N`, N = IN_FLIGHT / the line's burst: a loop's rate depends on
# how many frames circulate, so every line gets the same number), then reads the ports' Rx-pps
# (and with RX_TX=1 Tx-pps: a process that holds one end of a two-process loop) once a second
# for SECONDS_PER_RUN seconds and prints the median of those per-second Mpps. The median, not
# the mean: on this VM one unchanged line moves between 4 and 7 Mpps from one second to the
# next, in bursts that a mean would hand to whichever line they happened to hit.
measure() {
  local out=$RUN/m.out burst=32 a ports
  for a in "$@"; do case $a in --burst=*) burst=${a#--burst=} ;; esac; done
  ( sleep 4; echo "start tx_first $((IN_FLIGHT / burst))"; sleep 2; echo "show port stats all"
    for _ in $(seq 1 "$SECONDS_PER_RUN"); do sleep 1; echo "show port stats all"; done
    echo stop; echo quit ) | stdbuf -oL "$@" >"$out" 2>&1 || true
  ports=$(strip <"$out" | grep -c 'NIC statistics for port' || true)
  strip <"$out" | awk -v both="${RX_TX:-0}" -v ports="$((ports / (SECONDS_PER_RUN + 1)))" '
    /Rx-pps:/ {n++; rx[n]=$2}
    /Tx-pps:/ {m++; tx[m]=$2}
    END {
      if (ports < 1) { print "0.000"; exit }
      k=0
      # The first show covers the time since start: skip it; then one sample per show.
      for (i=ports+1; i+ports-1<=n; i+=ports) { s=0; for (j=i; j<i+ports; j++) s+=rx[j]+(both?tx[j]:0); v[++k]=s/1e6 }
      if (k == 0) { print "0.000"; exit }
      # insertion sort, then the median
      for (i=2; i<=k; i++) { x=v[i]; for (j=i-1; j>=1 && v[j]>x; j--) v[j+1]=v[j]; v[j+1]=x }
      printf "%.3f", (k%2) ? v[(k+1)/2] : (v[k/2]+v[k/2+1])/2 }'
}

AGENT=(taskset -c 0 "$BIN/userspace-agent" --container-id "$ID" --podinfo "$RUN/none" --shared-dir "$SHARED"
       testpmd --interactive --forward-mode io --huge yes --file-prefix bench-agent)
LINE=$("${AGENT[@]}" --dry-run)

# Hand-tuned for this topology: bigger bursts and rings, larger mbuf cache, no stats overhead.
S1=$SHARED/${ID:0:12}/${ID:0:12}-net1; S2=$SHARED/${ID:0:12}/${ID:0:12}-net2
HAND=(dpdk-testpmd --lcores=0@0,1@0 --main-lcore 0 -m 512 --in-memory --single-file-segments --file-prefix=bench-hand --no-pci
      --vdev "net_virtio_user0,path=$S1,server=1,queues=1" --vdev "net_virtio_user1,path=$S2,server=1,queues=1"
      -- -i --forward-mode=io --nb-cores=1 --burst=64 --rxd=1024 --txd=1024 --mbcache=512 --total-num-mbufs=65536 --no-lsc-interrupt)

# The ceiling: both directions of the loop (received + sent at the virtio_user end, as the
# switched lines count both directions by receiving on both ports). The vhost side loops packets back (io on one port) on CPU 1, free of the switch;
# the virtio_user side is the hand-tuned one-CPU line on CPU 0. Two processes: a vhost-user
# server cannot listen before its port starts, and a virtio_user server blocks its probe until a
# client connects.
ceiling() {
  rm -f "$RUN/ceil.sock"
  ( sleep $((SECONDS_PER_RUN + 12)); echo quit ) | dpdk-testpmd --lcores=0@1,1@1 --main-lcore 0 -m 512 --in-memory \
    --file-prefix=bench-back --no-pci --vdev "net_vhost0,iface=$RUN/ceil.sock,client=0" \
    -- -i --auto-start --forward-mode=io --nb-cores=1 --burst=64 --rxd=1024 --txd=1024 --total-num-mbufs=65536 \
    >"$RUN/back.out" 2>&1 &
  local back=$!
  sleep 3
  RX_TX=1 measure dpdk-testpmd --lcores=0@0,1@0 --main-lcore 0 -m 512 --in-memory --single-file-segments --file-prefix=bench-ceil \
    --no-pci --vdev "net_virtio_user0,path=$RUN/ceil.sock,queues=1" \
    -- -i --forward-mode=io --nb-cores=1 --burst=64 --rxd=1024 --txd=1024 --mbcache=512 --total-num-mbufs=65536 --no-lsc-interrupt
  wait "$back" || true
}

# The memif pair: two "pods" described by configuration-data files in one shared directory, as
# the plugin writes them; M (master: its testpmd makes the socket, CPU 1) forwards everything
# back, S (slave, CPU 0) is measured (received + sent: the two directions of the loop).
MEMIF=$RUN/memif; mkdir -p "$MEMIF"
MID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'); SID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
memif_pod() { # memif_pod ID ROLE MAC
  cat >"$MEMIF/configData-${1:0:12}-net1.json" <<JSON
{"containerId": "$1", "ifName": "net1", "name": "bench-memif",
 "config": {"engine": "vpp", "iftype": "memif", "netType": "interface",
            "memif": {"role": "$2", "mode": "ethernet", "socketfile": "memif-bench.sock"}},
 "ipResult": {"cniVersion": "1.0.0", "interfaces": [{"name": "net1", "mac": "$3"}], "ips": [], "dns": {}}}
JSON
}
memif_pod "$MID" master 02:00:00:00:0b:01; memif_pod "$SID" slave 02:00:00:00:0b:02
memif_agent() { # memif_agent CPU ID PREFIX
  echo taskset -c "$1" "$BIN/userspace-agent" --container-id "$2" --podinfo "$RUN/none" --shared-dir "$MEMIF" \
    testpmd --interactive --forward-mode io --huge yes --file-prefix "$3"
}
memif_pair() {
  rm -f "$MEMIF/memif-bench.sock"
  # shellcheck disable=SC2046
  ( sleep 2; echo start; sleep $((SECONDS_PER_RUN + 10)); echo stop; echo quit ) |
    $(memif_agent 1 "$MID" bench-mm) >"$RUN/mm.out" 2>&1 &
  local m=$!
  sleep 2
  # shellcheck disable=SC2046
  RX_TX=1 measure $(memif_agent 0 "$SID" bench-ms)
  wait "$m" || true
}
MEMIF_LINE=$($(memif_agent 0 "$SID" bench-ms) --dry-run)

declare -a A B E C D FLAG
for r in $(seq 1 "$ROUNDS"); do
  A[r]=$(measure "${AGENT[@]}")
  B[r]=$(measure "${HAND[@]}")
  # The hand-tuned line once more: how far one line moves from itself between two runs is the
  # bench's resolution, and it is printed beside the A/B ratio.
  E[r]=$(measure "${HAND[@]}")
  ovs_vswitchd_stop "$RUN/ovs" >/dev/null 2>&1
  C[r]=$(ceiling)
  D[r]=$(memif_pair)
  ovs_vswitchd_start "$RUN/ovs" >/dev/null 2>&1; flows
  FLAG[r]=$(awk -v a="${A[r]}" -v b="${B[r]}" -v c="${C[r]}" 'BEGIN{ if (c < a || c < b) print "ceiling below the switched path"; else print "" }')
  printf '  round %d: agent %s, hand-tuned %s and again %s, ceiling %s, memif pair %s Mpps %s\n' \
    "$r" "${A[r]}" "${B[r]}" "${E[r]}" "${C[r]}" "${D[r]}" "${FLAG[r]:+(flagged: ${FLAG[r]})}" >&2
  # A line that moved nothing did not run (no hugepages, a socket left over): no verdict from it.
  for v in "${A[r]}" "${B[r]}" "${E[r]}" "${C[r]}" "${D[r]}"; do
    awk -v v="$v" 'BEGIN{ exit !(v > 0) }' || { echo "round $r: a line measured 0 Mpps (it did not run): no verdict" >&2; exit 1; }
  done
done

cni DEL net1; cni DEL net2; ID=
ovs_stop "$RUN/ovs" >/dev/null 2>&1

stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f %.3f %.3f", m, v[1], v[NR]}'; }
read -r AM AL AH <<<"$(stats "${A[@]}")"; read -r BM BL BH <<<"$(stats "${B[@]}")"
read -r CM CL CH <<<"$(stats "${C[@]}")"; read -r DM DL DH <<<"$(stats "${D[@]}")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a/b; else print "n/a" }'; }
per_round() { # per_round X Y: the ratio X[r]/Y[r] of every round, one per line
  local -n x=$1 y=$2; local r
  for r in $(seq 1 "$ROUNDS"); do awk -v a="${x[r]}" -v b="${y[r]}" 'BEGIN{ printf "%.3f\n", (b > 0) ? a/b : 0 }'; done
}
# shellcheck disable=SC2046
read -r RAB RABL RABH <<<"$(stats $(per_round A B))"
# shellcheck disable=SC2046
read -r REB REBL REBH <<<"$(stats $(per_round E B))"
echo "Data plane, $(date -u +%F), $(nproc) cores, $ROUNDS rounds alternating A B B' C D, ${SECONDS_PER_RUN} one-second samples per run (median), 64-byte frames (testpmd io, $IN_FLIGHT in flight)"
echo "| line | median Mpps | min–max | median vs. hand-tuned |"
echo "|---|---|---|---|"
echo "| A agent-built, pod <-> OVS-DPDK <-> pod (one process, 2 ports) | $AM | $AL–$AH | $(ratio "$AM" "$BM") |"
echo "| B hand-tuned, same topology | $BM | $BL–$BH | 1.00x |"
read -r EM EL EH <<<"$(stats "${E[@]}")"
echo "| B' hand-tuned again, same round (resolution) | $EM | $EL–$EH | $(ratio "$EM" "$BM") |"
echo "| C ceiling: virtio_user <-> vhost (looped back), no switch | $CM | $CL–$CH | $(ratio "$CM" "$BM") |"
echo "| D memif pair, both ends agent-built, no switch (received + sent at one end) | $DM | $DL–$DH | $(ratio "$DM" "$BM") |"
echo
echo "| round | A/B | B'/B (same line) | flag |"
echo "|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do echo "| $r | $(ratio "${A[r]}" "${B[r]}") | $(ratio "${E[r]}" "${B[r]}") | ${FLAG[r]:--} |"; done
echo
echo "per-round A/B: median ${RAB}x (${RABL}–${RABH}); the same line against itself, B'/B: median ${REB}x (${REBL}–${REBH})"
echo
echo "agent line: $LINE"
echo "memif line: $MEMIF_LINE"
R=$(awk -v a="$AM" -v b="$BM" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print 0 }')
VERDICT=$(awk -v r="$R" 'BEGIN{ print (r >= 1.0) ? "agent >= hand-tuned" : "agent < hand-tuned" }')
# When the agent's distance from the hand-tuned line is no larger than the hand-tuned line's
# distance from itself, the verdict says so: the bench cannot tell the lines apart then.
WITHIN=$(awk -v r="$R" -v lo="$REBL" -v hi="$REBH" 'BEGIN{ d=(r>1)?r-1:1-r; e=(1-lo>hi-1)?1-lo:hi-1; print (d <= e) ? "yes" : "no" }')
if [ "$WITHIN" = yes ]; then
  echo "verdict: $VERDICT (within the bench's resolution here: the same line moved ${REBL}–${REBH}x against itself)"
else
  echo "verdict: $VERDICT"
fi
echo "agent-built vs best hand-tuned, median of $ROUNDS rounds: ${R}x"
