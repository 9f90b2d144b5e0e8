#!/usr/bin/env bash
# The agent as a container entrypoint: how long from the container's start until the agent
# would exec testpmd, and its peak RSS, next to the same container starting `/bin/true`
# (the runtime's own cost), same run. Prints a table. N=20 runs each by default.
#
# Each run: `podman create` (no network), the pod's downward-API annotations written with the
# new container's ID (as kubelet would have them), then `podman start -a` timed. The agent
# finds its container ID in podman's mountinfo, reads the annotation, resources and DPDK's
# version, builds the line and (`--dry-run`) prints it where it would exec; it logs the time
# since its own start and its peak RSS at that point.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
IMAGE=localhost/userspace-cni/testpmd:latest
bash scripts/build-images.sh --only testpmd >/dev/null 2>&1
PODMAN=(podman --runtime /usr/sbin/runc)
OPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
DIR=$(mktemp -d /tmp/agentbench.XXXX)
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/podinfo" "$DIR/shared"

annotate() { # annotate ID: the configuration-data annotation of a pod with one memif interface
  local entry
  entry=$(jq -nc --arg id "$1" '[{containerId: $id, ifName: "net1", name: "bench",
    config: {engine: "vpp", iftype: "memif", netType: "interface",
             memif: {role: "master", mode: "ethernet", socketfile: "memif-net1.sock"}},
    ipResult: {cniVersion: "1.0.0", interfaces: [{name: "net1", mac: "02:00:00:00:00:01"}],
               ips: [{address: "10.1.1.2/24", interface: 0}]}}]')
  # The downward API's format: key="value", the value quoted like Go's %q.
  printf 'userspace/configuration-data=%s\nuserspace/mapped-dir="/var/lib/cni/usrspcni"' \
    "$(jq -Rr '@json' <<<"$entry")" >"$DIR/podinfo/annotations"
}

run() { # run agent|true: prints "wall_us elapsed_us rss_kib"
  local id out t0 t1
  if [ "$1" = agent ]; then
    id=$("${PODMAN[@]}" create "${OPTS[@]}" -v "$DIR/podinfo:/etc/podinfo:ro" \
      -v "$DIR/shared:/var/lib/cni/usrspcni" -e USERSPACE_LOG=info "$IMAGE" testpmd --dry-run)
    annotate "$id"
  else
    id=$("${PODMAN[@]}" create "${OPTS[@]}" --entrypoint /bin/true "$IMAGE")
  fi
  t0=$(date +%s%N)
  out=$("${PODMAN[@]}" start -a "$id" 2>&1)
  t1=$(date +%s%N)
  "${PODMAN[@]}" rm "$id" >/dev/null
  if [ "$1" = agent ] && ! grep -q -- '--vdev=net_memif0' <<<"$out"; then
    echo "the agent did not build the line:" >&2; echo "$out" >&2; exit 1
  fi
  out=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' <<<"$out")
  echo "$(( (t1 - t0) / 1000 )) $(grep -o 'elapsed_us=[0-9]*' <<<"$out" | cut -d= -f2 || echo 0) $(grep -o 'peak_rss_kib=[0-9]*' <<<"$out" | cut -d= -f2 || echo 0)"
}

for i in $(seq 1 "$N"); do run true >>"$DIR/true"; run agent >>"$DIR/agent"; done
med() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
p90() { sort -n | awk '{a[NR]=$1} END{i=int(NR*0.9+0.999); print a[i]}'; }
T_MED=$(cut -d' ' -f1 "$DIR/true" | med); T_P90=$(cut -d' ' -f1 "$DIR/true" | p90)
A_MED=$(cut -d' ' -f1 "$DIR/agent" | med); A_P90=$(cut -d' ' -f1 "$DIR/agent" | p90)
E_MED=$(cut -d' ' -f2 "$DIR/agent" | med); E_P90=$(cut -d' ' -f2 "$DIR/agent" | p90)
R_MED=$(cut -d' ' -f3 "$DIR/agent" | med)
ms() { awk -v u="$1" 'BEGIN{printf "%.1f ms", u/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
echo "agent in a container, $N runs each ($(nproc) CPUs, $(date -u +%F))"
printf '| %-58s | %-9s | %-9s | %-8s | %-11s |\n' what median p90 "peak RSS" "vs. /bin/true"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "-----------" "-----------" "----------" "-------------"
printf '| %-58s | %-9s | %-9s | %-8s | %-11s |\n' "podman start -a: container running /bin/true (baseline)" "$(ms "$T_MED")" "$(ms "$T_P90")" "-" "1.00x"
printf '| %-58s | %-9s | %-9s | %-8s | %-11s |\n' "podman start -a: container running userspace-agent testpmd" "$(ms "$A_MED")" "$(ms "$A_P90")" "$((R_MED / 1024)) MiB" "$(ratio "$A_MED" "$T_MED")"
printf '| %-58s | %-9s | %-9s | %-8s | %-11s |\n' "inside: agent start to testpmd exec (discovery + argv)" "$(ms "$E_MED")" "$(ms "$E_P90")" "$((R_MED / 1024)) MiB" "$(ratio "$E_MED" "$T_MED")"
