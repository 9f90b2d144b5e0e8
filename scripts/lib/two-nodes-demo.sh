#!/usr/bin/env bash
# `scripts/demo.sh two-nodes`: pods on two nodes through OVN. OVN central and two "nodes" (each
# a network namespace with its own ovsdb-server, DPDK ovs-vswitchd and ovn-controller, a
# Geneve tunnel over a veth between them) run on this machine with private paths; the plugin,
# with `host.engine: ovn`, makes each pod's logical switch port (addresses from OVN's own
# IPAM) and its vhost-user port on the node's br-int; each pod is dpdk-testpmd as
# `userspace-agent testpmd` launches it. Counted traffic crosses the tunnel both ways, then
# again after node A's ovs-vswitchd and node B's ovn-controller restart; kills at every ADD
# and DEL step, a centrally made port, GC and STATUS follow; everything is removed and checked.
#
# The scenario is the test `host-plugin/tests/ovn_two_nodes.rs` (the suite runs it too); this
# script sets the machine up, runs it, and prints its report.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=$(mktemp -d /tmp/usovndemo.XXXX)
trap 'rm -rf "$RUN"' EXIT
bold() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

bold "Set-up: packages (OVS-DPDK, OVN, DPDK), build"
bash scripts/setup-host.sh
cargo build -q --workspace   # the agent the pods run, and the plugin the test calls
bold "Two OVN nodes, a pod on each (host.engine: ovn; this takes about half a minute)"
if USERSPACE_OVN_REPORT="$RUN/report.txt" cargo test -q -p userspace --test ovn_two_nodes \
    >"$RUN/test.log" 2>&1 && [ -s "$RUN/report.txt" ]; then
  cat "$RUN/report.txt"
  echo
  echo "OK"
else
  tail -n 80 "$RUN/test.log"
  echo
  echo "FAILED"
  exit 1
fi
