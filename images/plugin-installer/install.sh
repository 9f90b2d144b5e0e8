#!/bin/sh
# Default command of the plugin-installer image: copies the `userspace` CNI plugin into the
# node's CNI bin directory, mounted at /host/opt/cni/bin (to a temporary name, then renamed, so
# that a runtime calling the plugin at that moment never executes a half-written file), and
# exits. The DaemonSet in examples/k8s/plugin-installer.yaml runs its own script instead (the
# same copy, plus the plugin's kubeconfig and the token refresh loop).
set -eu
bin=${CNI_BIN_DIR:-/host/opt/cni/bin}
if [ ! -d "$bin" ]; then
  echo "no $bin: mount the node's CNI bin directory there (-v /opt/cni/bin:$bin)" >&2
  exit 1
fi
cp /usr/local/bin/userspace "$bin/.userspace.new"
chmod 0755 "$bin/.userspace.new"
mv -f "$bin/.userspace.new" "$bin/userspace"
echo "installed $bin/userspace: $(CNI_COMMAND=VERSION /usr/local/bin/userspace </dev/null)"
