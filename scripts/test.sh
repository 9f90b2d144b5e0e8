#!/usr/bin/env bash
# The whole test suite: host set-up (packages, hugepages), formatting, lints, every test
# (including the ones that run the real dpdk-testpmd and ovsdb-server: they need root and
# hugepages), a smoke run of the fuzz targets, then the end-to-end demo on a real OVS-DPDK switch
# with podman containers, for both port types, and on a private containerd driven like kubelet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace -- -W clippy::too_many_lines -D warnings   # 100 lines per function in non-test code
bash scripts/machete.sh                                           # no unused dependencies
cargo build --workspace   # also userspace-agent and libuserspace_cni, which the sdk-ffi schema and l2fwd tests run and link
cargo test --workspace
bash scripts/fuzz.sh --seconds 10              # a short smoke of every fuzz target (the long runs: README, Reliability)
bash scripts/demo.sh                          # dpdkvhostuserclient ports (pods are vhost-user servers)
HOST_VHOST_MODE=server bash scripts/demo.sh   # dpdkvhostuser ports, sockets bind-mounted across filesystems
bash scripts/demo.sh containerd               # a Kubernetes node: containerd's CRI, Multus' delegation, a two-port pod
