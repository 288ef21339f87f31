#!/usr/bin/env bash
# Installs the system components the test-suite uses when they are missing:
# iproute2 (Linux backend tests), Docker + a local busybox image (e2e),
# Chromium (the simulate HTML test), etcd (the shared-store IPAM tests). Tests that need a component that could
# not be installed skip with a printed reason.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then echo "setup-ci: not root: root-only tests will skip"; exit 0; fi
if ! command -v ip >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
fi
bash "$here/setup-docker.sh" || echo "setup-ci: docker setup failed: e2e tests will skip"
bash "$here/setup-etcd.sh" || echo "setup-ci: etcd setup failed: etcd tests will skip"
if [ -f "$here/setup-chromium.sh" ]; then
  bash "$here/setup-chromium.sh" || echo "setup-ci: chromium setup failed: browser tests will skip"
fi
exit 0
