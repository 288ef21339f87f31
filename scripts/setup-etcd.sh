#!/usr/bin/env bash
# Installs Debian's etcd-server (etcd 3.4, /usr/bin/etcd) when it is missing.
# The tests start their own etcd members on loopback ports with temporary data
# directories; the packaged service is stopped so it holds no port and no data.
set -uo pipefail
if command -v etcd >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "setup-etcd: not root and etcd missing: etcd tests will skip"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the package's postinst must not start a system etcd on 2379.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
status=$?
if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
if [ $status != 0 ] || ! command -v etcd >/dev/null 2>&1; then echo "setup-etcd: installing etcd-server failed: etcd tests will skip"; exit 0; fi
# A system etcd started anyway (systemd without policy-rc.d): stop it.
if command -v systemctl >/dev/null 2>&1; then systemctl stop etcd >/dev/null 2>&1 || true; systemctl disable etcd >/dev/null 2>&1 || true; fi
echo "setup-etcd: $(etcd --version 2>/dev/null | head -1)"
exit 0
