#!/usr/bin/env bash
# The whole test suite: host set-up (packages, hugepages), lints, then every test, including
# the ones that run the real dpdk-testpmd (they need root and hugepages; they serialise
# themselves, the rest runs in parallel).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
