#!/usr/bin/env bash
# Installs and prepares everything the tests and the demo need on a fresh Debian 12 machine:
# DPDK (dpdk-testpmd, and libdpdk for the C examples), OVS-DPDK, OVN (central and host, for
# the two-node OVN rig; ping warms its tunnels), the reference CNI plugins (host-local),
# podman + runc, gcc + make (the C API's tests and examples/c), Prometheus (the node agent's
# scrape test), openssl (the OVSDB client's SSL test certificates), and 2 MiB hugepages
# mounted at /dev/hugepages. Idempotent; needs root. The packages start no daemons (no
# systemd here): every test starts its own.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "setup-host.sh must run as root" >&2; exit 1; }

packages=(dpdk dpdk-dev openvswitch-switch-dpdk ovn-central ovn-host ovn-common containernetworking-plugins iproute2 iputils-ping pkg-config gcc make jq podman runc busybox-static debootstrap containerd protobuf-compiler valgrind prometheus openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" >/dev/null
fi

# Hugepages: 1024 x 2 MiB is enough for OVS (512 MiB) and a few testpmd processes.
want=${USERSPACE_HUGEPAGES:-1024}
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
have=$(cat /proc/sys/vm/nr_hugepages)
if [ "$have" -lt "$want" ]; then
  echo "$want" > /proc/sys/vm/nr_hugepages
  have=$(cat /proc/sys/vm/nr_hugepages)
fi
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
log "hugepages: $have total, $free free (2 MiB)"
[ "$free" -ge 256 ] || { echo "only $free free hugepages; the tests need at least 256" >&2; exit 1; }
log "dpdk-testpmd: $(command -v dpdk-testpmd), DPDK $(pkg-config --modversion libdpdk)"
