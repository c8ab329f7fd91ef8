#!/usr/bin/env bash
# Installs what building and testing Bosun needs on Debian 12: protoc (for
# etcd-client's and k8s-cri's build scripts), etcd (store conformance and e2e
# tests), the node agent's runtime (containerd, runc, the CNI plugins,
# busybox-static for the built-in images; skopeo and docker-registry for
# tests that pull from a local registry) and a Python venv with pytest and
# the official Kubernetes client.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
python3 -c 'import venv' 2>/dev/null || need+=(python3-venv)
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]} (run as root or install them)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
