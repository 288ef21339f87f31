#!/bin/sh
# Headless Chromium from Debian's packages, for the `cnmkit simulate --html`
# browser test (test/simulate/html-browser.test.ts). Needs root; a no-op when
# Chromium is already installed.
set -eu
if command -v chromium >/dev/null 2>&1; then
  echo "setup-chromium: $(chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-chromium: not root; install Debian's 'chromium' package to run the browser test" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "setup-chromium: $(chromium --version)"
