#!/usr/bin/env bash
# Builds cnmkit as a managed (v2) Docker plugin from local files only:
#   OUT/config.json  (packaging/managed/config.json)
#   OUT/rootfs/      node + its shared libraries, ip (iproute2), iptables
#                    (xtables-nft-multi + extensions), nsenter/unshare/umount,
#                    and the package (package.json, bin/, dist/, production
#                    node_modules) under /opt/cnmkit.
# Usage: scripts/build-managed-plugin.sh [--out DIR] [--create NAME:TAG] [--no-build]
#   --no-build uses the repo's dist/ as it is (npm run build); the default compiles afresh.
#   --create runs `docker plugin create NAME:TAG DIR` (then: docker plugin enable NAME:TAG).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out="$repo/build/managed-plugin"
create=""
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --create) create=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build-managed-plugin: unknown argument $1" >&2; exit 2 ;;
  esac
done

need() { command -v "$1" >/dev/null || { echo "build-managed-plugin: $1 not found" >&2; exit 1; }; }
need node; need ip; need ldd

rm -rf "$out"
mkdir -p "$out"
dist="$repo/dist"
if [ "$build" = 1 ]; then
  # Compiled into the output, not the repo's dist/ (tests may be importing it meanwhile).
  # Type errors elsewhere do not stop tsc from emitting; a missing entry point does.
  dist="$out/.dist"
  (cd "$repo" && npx --no-install tsc -p tsconfig.build.json --outDir "$dist" --declaration false --sourceMap false) ||
    echo "build-managed-plugin: tsc reported errors (output emitted anyway)" >&2
fi
[ -f "$dist/src/cli/main.js" ] || { echo "build-managed-plugin: $dist/src/cli/main.js missing (npm run build)" >&2; exit 1; }

root="$out/rootfs"
mkdir -p "$root"/{proc,sys,dev,tmp,run/docker/plugins,etc,var/lib/cnmkit,opt/cnmkit,usr/bin,usr/sbin}
chmod 1777 "$root/tmp"

# A file plus every shared library ldd names, at the same paths.
copy_with_libs() {
  local f=$1 dest=${2:-$1}
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$f" "$root$dest"
  ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

copy_with_libs "$(readlink -f "$(command -v node)")" /usr/bin/node
copy_with_libs "$(readlink -f "$(command -v ip)")" /usr/sbin/ip
for tool in nsenter unshare umount; do
  p=$(command -v "$tool" || true)
  [ -n "$p" ] && copy_with_libs "$(readlink -f "$p")" "/usr/bin/$tool"
done
if command -v iptables >/dev/null; then
  multi=$(readlink -f "$(command -v iptables)")
  copy_with_libs "$multi" "/usr/sbin/$(basename "$multi")"
  for name in iptables ip6tables; do ln -sf "$(basename "$multi")" "$root/usr/sbin/$name"; done
  for dir in /usr/lib/x86_64-linux-gnu/xtables /usr/lib/aarch64-linux-gnu/xtables /usr/lib/xtables; do
    [ -d "$dir" ] || continue
    for so in "$dir"/*.so; do copy_with_libs "$so"; done
  done
else
  echo "build-managed-plugin: iptables not found: the plugin will not program forwarding rules" >&2
fi
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

# The package: production dependencies only (npm ls works offline on the installed tree).
pkg="$root/opt/cnmkit"
cp "$repo/package.json" "$pkg/"
cp -r "$repo/bin" "$pkg/"
cp -r "$dist" "$pkg/dist"
rm -rf "$out/.dist"
[ -d "$repo/fixtures" ] && cp -r "$repo/fixtures" "$pkg/"
# Sorted, a package comes before the packages nested in it, which its copy already holds.
(cd "$repo" && npm ls --omit=dev --parseable --all 2>/dev/null | tail -n +2 | sort -u) | while read -r dir; do
  rel=${dir#"$repo"/}
  case "$rel" in node_modules/*) ;; *) continue ;; esac
  [ -e "$pkg/$rel" ] && continue
  mkdir -p "$pkg/$(dirname "$rel")"
  cp -r "$dir" "$pkg/$rel"
done

cp "$repo/packaging/managed/config.json" "$out/config.json"
chroot "$root" /usr/bin/node -e 'process.exit(0)' 2>/dev/null || echo "build-managed-plugin: warning: node does not start in the rootfs (chroot test failed)" >&2
echo "build-managed-plugin: $out ($(du -sh "$out" | cut -f1))"

if [ -n "$create" ]; then
  docker plugin create "$create" "$out"
  echo "build-managed-plugin: created $create (enable with: docker plugin enable $create)"
fi
