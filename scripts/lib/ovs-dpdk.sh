# Private OVS-DPDK instance helpers (sourced). Everything lives under $OVS_DIR; nothing of the
# machine's own OVS is touched. Needs root, hugepages and Debian's openvswitch-switch-dpdk.

ovs_start() {
  local dir=$1
  export OVS_DIR=$dir OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir
  mkdir -p "$dir"
  update-alternatives --set ovs-vswitchd /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk >/dev/null
  ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" \
    --pidfile="$dir/ovsdb-server.pid" --unixctl="$dir/ovsdb-server.ctl" --log-file="$dir/ovsdb-server.log" --detach
  ovs-vsctl --db="unix:$dir/db.sock" --no-wait init
  # One lcore for OVS's main thread, CPU 1 for its PMD; 512 MiB of hugepages.
  ovs-vsctl --db="unix:$dir/db.sock" --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-socket-mem=512 other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 \
    other_config:dpdk-extra="--no-pci --file-prefix=ovsdemo"
  ovs-vswitchd "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" --unixctl="$dir/ovs-vswitchd.ctl" \
    --log-file="$dir/ovs-vswitchd.log" --detach
  local i
  for i in $(seq 1 100); do
    [ "$(ovs-vsctl --db="unix:$dir/db.sock" get Open_vSwitch . dpdk_initialized 2>/dev/null)" = true ] && return 0
    sleep 0.2
  done
  echo "ovs-vswitchd did not initialise DPDK; see $dir/ovs-vswitchd.log" >&2
  return 1
}

ovs_vswitchd_stop() {
  local dir=$1 pid i
  pid=$(cat "$dir/ovs-vswitchd.pid")
  kill "$pid"
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

ovs_vswitchd_start() {
  local dir=$1 i
  ovs-vswitchd "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" --unixctl="$dir/ovs-vswitchd.ctl" \
    --log-file="$dir/ovs-vswitchd.log" --detach
  for i in $(seq 1 100); do
    [ "$(ovs-vsctl --db="unix:$dir/db.sock" get Open_vSwitch . dpdk_initialized 2>/dev/null)" = true ] && return 0
    sleep 0.2
  done
  return 1
}

ovs_vswitchd_restart() {
  ovs_vswitchd_stop "$1" && ovs_vswitchd_start "$1"
}

ovs_stop() {
  local dir=$1 p pid pids="" i
  for p in ovs-vswitchd ovsdb-server; do
    if [ -f "$dir/$p.pid" ]; then
      pid=$(cat "$dir/$p.pid")
      kill "$pid" 2>/dev/null && pids="$pids $pid"
    fi
  done
  # Their hugepage files go only once they are gone (up to 10 s).
  for pid in $pids; do
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf /dev/hugepages/ovsdemo* /var/run/dpdk/ovsdemo
}
