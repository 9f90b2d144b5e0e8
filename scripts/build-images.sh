#!/usr/bin/env bash
# Builds the container images of images/ with podman, on a Debian 12 machine, without any
# registry:
#
#   localhost/debian:bookworm                    base: debootstrap --variant=minbase, imported
#   localhost/userspace-cni/testpmd:latest       dpdk-testpmd + userspace-agent (user dpdk, 10001)
#   localhost/userspace-cni/plugin-installer:latest   the `userspace` plugin, the node agent + busybox sh
#   localhost/userspace-cni/vpp:latest           VPP + userspace-agent; only with VPP packages
#
# Usage: scripts/build-images.sh [--only testpmd|plugin-installer|vpp] [--refresh-base]
#                                [--build-arg NAME=VALUE]...
#
#   --only NAME       build just that image (and the base image if it is missing)
#   --refresh-base    debootstrap the base image again even if it exists (security updates)
#   --build-arg N=V   passed to `podman build` of every image; VPP_SOURCE=<apt source line>
#                     enables the vpp image (see images/README.md)
#
# Environment:
#   VPP_DEB_DIR       a directory of VPP .deb packages (vpp, vpp-plugin-core, vpp-plugin-dpdk,
#                     libvppinfra); enables the vpp image. VPP is not packaged in Debian.
#   VPP_KEYRING       with VPP_SOURCE: the repository's signing key (binary keyring), installed
#                     as /etc/apt/keyrings/vpp.gpg for `signed-by=` in the source line
#   DEBIAN_MIRROR     default http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR   default http://deb.debian.org/debian-security
#   PODMAN_RUNTIME    default /usr/sbin/runc (crun does not run on every host's cgroup layout)
#   IMAGE_TAG         default latest
#
# Idempotent: installs debootstrap, podman and runc with apt only when missing, makes the base
# image only when it does not exist, and podman's layer cache makes an unchanged image a
# no-op. Needs root (debootstrap, rootful podman).
set -euo pipefail

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
base=localhost/debian:bookworm
prefix=localhost/userspace-cni
tag=${IMAGE_TAG:-latest}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
runtime=${PODMAN_RUNTIME:-/usr/sbin/runc}

only=""
refresh_base=0
build_args=()
vpp_source=""
while [ $# -gt 0 ]; do
  case $1 in
    --only) [ $# -ge 2 ] || die "--only needs a value"; only=$2; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    --refresh-base) refresh_base=1; shift ;;
    --build-arg) [ $# -ge 2 ] || die "--build-arg needs NAME=VALUE"; build_args+=(--build-arg "$2")
      case $2 in VPP_SOURCE=?*) vpp_source=${2#VPP_SOURCE=} ;; esac; shift 2 ;;
    --build-arg=*) build_args+=(--build-arg "${1#--build-arg=}")
      case ${1#--build-arg=} in VPP_SOURCE=?*) vpp_source=${1#--build-arg=VPP_SOURCE=} ;; esac; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case $only in ""|testpmd|plugin-installer|vpp) ;; *) die "--only: testpmd, plugin-installer or vpp, not $only" ;; esac
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
vpp_given=0
if [ -n "${VPP_DEB_DIR:-}" ] || [ -n "$vpp_source" ]; then vpp_given=1; fi
[ "$only" != vpp ] || [ "$vpp_given" = 1 ] ||
  die "the vpp image needs VPP packages: VPP_DEB_DIR=<dir of .debs> or --build-arg VPP_SOURCE=<apt source line> (VPP is not packaged in Debian)"
[ -z "${VPP_DEB_DIR:-}" ] || [ -d "$VPP_DEB_DIR" ] || die "VPP_DEB_DIR=$VPP_DEB_DIR is not a directory"
[ -z "${VPP_KEYRING:-}" ] || [ -f "$VPP_KEYRING" ] || die "VPP_KEYRING=$VPP_KEYRING is not a file"

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and rootful podman)"

# --- packages ------------------------------------------------------------------------------
missing=()
for p in debootstrap podman runc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" >/dev/null
fi
[ -x "$runtime" ] || die "OCI runtime $runtime not found (set PODMAN_RUNTIME)"

# rootful podman with runc; the explicit ulimits keep RUN steps and test containers within the
# limits this host allows (podman's defaults try to raise them, which fails on some hosts).
pm() { podman --runtime "$runtime" "$@"; }
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

work=$(mktemp -d /var/tmp/build-images.XXXXXX)
cleanup() {
  if mountpoint -q "$work/rootfs/proc" 2>/dev/null; then umount "$work/rootfs/proc"; fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# --- base image ----------------------------------------------------------------------------
if [ "$refresh_base" = 1 ] || ! podman image exists "$base"; then
  log "debootstrap bookworm (minbase) from $mirror -> $base"
  rootfs=$work/rootfs
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # Updates and security updates too, not just the release debootstrap fetched from.
  security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  # Smaller images: no manual pages, info pages, message translations or documentation
  # (copyright files are kept), no recommended packages unless asked for.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/01-norecommends"
  # debootstrap fetched the release as it was at its last point release: apply the updates
  # and security updates published since.
  mount -t proc proc "$rootfs/proc"
  chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' \
    >"$work/upgrade.log" 2>&1 || { tail -n 20 "$work/upgrade.log" >&2; die "apt-get upgrade in the new rootfs failed"; }
  umount "$rootfs/proc"
  # debootstrap copied this host's resolv.conf and hostname; container runtimes provide both.
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
  rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  find "$rootfs/var/log" -type f -delete
  # (With --refresh-base, importing moves the tag; the images built on the old base keep it.)
  tar --numeric-owner -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase bookworm $mirror" --quiet - "$base" >/dev/null
  rm -rf "$rootfs"
else
  log "base image $base exists (--refresh-base to make it again)"
fi

# --- binaries ------------------------------------------------------------------------------
command -v cargo >/dev/null || PATH=$HOME/.cargo/bin:$PATH   # rustup's, under sudo
command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
log "cargo build --release -p userspace -p userspace-agent -p userspace-node"
(cd "$root" && cargo build --release -p userspace -p userspace-agent -p userspace-node -q)
bin=${CARGO_TARGET_DIR:-$root/target}/release
[ -x "$bin/userspace" ] && [ -x "$bin/userspace-agent" ] && [ -x "$bin/userspace-node" ] || die "release binaries missing in $bin"

# --- images --------------------------------------------------------------------------------
summary=()
# build NAME CONTEXT: podman build from a staging directory holding only what the image needs.
build() {
  local name=$1 ctx=$2 ref=$prefix/$1:$tag old=""
  old=$(podman image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
  log "building $ref"
  pm build --pull=never "${limits[@]}" ${build_args[@]+"${build_args[@]}"} \
    -t "$ref" -f "$ctx/Containerfile" "$ctx" >"$work/$name.log" 2>&1 || {
    tail -n 40 "$work/$name.log" >&2; die "building $ref failed (log above)"; }
  local bytes id
  bytes=$(podman image inspect -f '{{.Size}}' "$ref")
  id=$(podman image inspect -f '{{.Id}}' "$ref")
  # The image this tag named before, now untagged: remove it (kept if a container uses it).
  if [ -n "$old" ] && [ "$old" != "$id" ] && [ -z "$(podman image inspect -f '{{.RepoTags}}' "$old" 2>/dev/null | tr -d '[]')" ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
  summary+=("$(printf '%-48s %7s MB  %s' "$ref" "$(( (bytes + 500000) / 1000000 ))" "${id:0:12}")")
}

if want testpmd; then
  ctx=$work/testpmd
  mkdir -p "$ctx"
  cp "$root/images/testpmd/Containerfile" "$ctx/"
  install -m 0755 "$bin/userspace-agent" "$ctx/"
  build testpmd "$ctx"
fi

if want plugin-installer; then
  ctx=$work/plugin-installer
  mkdir -p "$ctx"
  cp "$root/images/plugin-installer/Containerfile" "$ctx/"
  install -m 0755 "$root/images/plugin-installer/install.sh" "$bin/userspace" "$bin/userspace-node" "$ctx/"
  build plugin-installer "$ctx"
fi

if want vpp; then
  if [ "$vpp_given" = 1 ]; then
    ctx=$work/vpp
    mkdir -p "$ctx/debs"
    cp "$root/images/vpp/Containerfile" "$ctx/"
    install -m 0755 "$bin/userspace-agent" "$ctx/"
    if [ -n "${VPP_DEB_DIR:-}" ]; then
      # Only the packages the image installs, not the whole directory.
      for p in vpp vpp-plugin-core vpp-plugin-dpdk libvppinfra; do
        set -- "$VPP_DEB_DIR/${p}_"*.deb
        [ -e "$1" ] || die "no ${p}_*.deb in VPP_DEB_DIR=$VPP_DEB_DIR"
        [ $# -eq 1 ] || die "several ${p}_*.deb in VPP_DEB_DIR=$VPP_DEB_DIR: keep one version"
        cp "$1" "$ctx/debs/"
      done
    fi
    touch "$ctx/keyring.gpg"
    if [ -n "${VPP_KEYRING:-}" ]; then cp "$VPP_KEYRING" "$ctx/keyring.gpg"; fi
    build vpp "$ctx"
  else
    summary+=("$(printf '%-48s skipped: VPP is not packaged in Debian; set VPP_DEB_DIR or --build-arg VPP_SOURCE=...' "$prefix/vpp:$tag")")
  fi
fi

printf '%s\n' "${summary[@]}"
