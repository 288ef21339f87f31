#!/usr/bin/env bash
# Makes a Docker daemon and a local busybox image available for the e2e tests:
# installs Debian's docker.io, iptables and busybox-static when missing, starts
# dockerd when it is not running, and imports `cnmkit-busybox:latest` from a
# rootfs built from busybox-static (nothing is pulled from a registry).
# Needs root; prints why and exits 0 otherwise (the e2e tests then skip).
set -uo pipefail
IMAGE=${CNMKIT_E2E_IMAGE:-cnmkit-busybox:latest}
if [ "$(id -u)" != 0 ]; then echo "setup-docker: not root, skipping"; exit 0; fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v iptables >/dev/null || missing+=(iptables)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-docker: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
    echo "setup-docker: apt-get install failed"; exit 1; }
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup-docker: starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/cnmkit-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup-docker: dockerd did not come up (see /var/log/cnmkit-dockerd.log)"; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "setup-docker: importing $IMAGE"
  bb=$(command -v busybox)
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -sf /bin/busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null || {
    echo "setup-docker: docker import failed"; exit 1; }
fi
echo "setup-docker: ready (image $IMAGE)"
