#!/usr/bin/env bash
# Unused dependencies: cargo-machete reads every crate's Cargo.toml and sources and fails on
# a declared dependency that no source uses. Exceptions are listed, with the reason, in the
# crate's [package.metadata.cargo-machete] ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo machete --version >/dev/null 2>&1; then
	cargo install cargo-machete --locked --version 0.9.2
fi
cargo machete --with-metadata "$@"
