#!/usr/bin/env bash
# Installs the system components the test-suite uses when they are missing.
# Each later feature (dockerd, chromium, ...) adds its own installer here.
set -uo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
exit 0
