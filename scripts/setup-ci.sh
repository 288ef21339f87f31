#!/usr/bin/env bash
# Installs the system components the test tiers use when they are missing
# (the tests themselves only look, never install):
#   root tier:   iproute2 (namespaces, veth, bridges on the real kernel)
#   docker tier: Docker + iptables + a local busybox image (setup-docker.sh)
#   etcd tier:   Debian's etcd-server (setup-etcd.sh)
#   unit tier:   Chromium for the browser tests of simulate --html (setup-chromium.sh)
# Components opted out with CNMKIT_SKIP (root,docker,etcd,browser or all) are
# not installed. Tests whose component is missing skip with a printed reason.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip=",${CNMKIT_SKIP:-},"; skip=${skip// /}
wanted() { [[ "$skip" != *",$1,"* && "$skip" != *",all,"* ]]; }
if [ "$(id -u)" != 0 ]; then echo "setup-ci: not root: nothing installed; root, docker and etcd tests skip unless already set up"; exit 0; fi
if wanted root && ! command -v ip >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
fi
if wanted docker; then bash "$here/setup-docker.sh" || echo "setup-ci: docker setup failed: docker tests will skip"; fi
if wanted etcd; then bash "$here/setup-etcd.sh" || echo "setup-ci: etcd setup failed: etcd tests will skip"; fi
if wanted browser; then bash "$here/setup-chromium.sh" || echo "setup-ci: chromium setup failed: browser tests will skip"; fi
exit 0
