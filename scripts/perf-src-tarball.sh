#!/usr/bin/env bash
# Makes a perf-only source tarball (perf-<kernelversion>.tar.xz, about 5 MB) out of a full kernel
# source tarball (linux-source-6.1.tar.xz, about 138 MB), into the sources cache, so that hosts
# receive only what tools/perf needs to build.
#
# Why not the kernel's own `make perf-tarxz-src-pkg`: it runs `git archive` and fails in a tree
# unpacked from a tarball (Debian's linux-source has no .git): "fatal: not a git repository".
# This script does what that target does, with tar alone:
#   - the paths listed in tools/perf/MANIFEST, under the prefix perf-<kernelversion>/,
#   - plus PERF-VERSION-FILE at the top, which tools/perf/util/PERF-VERSION-GEN reads when the
#     tree has neither .git nor the kernel's top Makefile.
# The kernel tarball is read twice (MANIFEST first, then the listed paths); it is never unpacked
# whole. The output is reproducible (same kernel tarball, same bytes): sorted names, numeric root
# owner, mtimes from the kernel tree clamped to its Makefile's.
#
# Usage: perf-src-tarball.sh [KERNEL_TARBALL]   (default: $PERFPROV_SOURCES/linux-source-6.1.tar.xz)
# Prints: PERF_TARBALL=/path/perf-<kernelversion>.tar.xz (and PERF_VERSION=<kernelversion>)
set -euo pipefail

cache=${PERFPROV_SOURCES:-/var/cache/perfprov/sources}
kernel=${1:-$cache/linux-source-6.1.tar.xz}
[ -s "$kernel" ] || { echo "perf-src-tarball: kernel tarball $kernel is missing; run scripts/fetch-sources.sh" >&2; exit 1; }
mkdir -p "$cache"
# Its own lock: fetch-sources.sh holds $cache/.lock while it calls this script.
exec 8>"$cache/.perf-src.lock"
flock 8

# The cache key is the kernel tarball's size and mtime; the stamp names the tarball made from it.
stamp="$cache/.perf-src.stamp"
key="$(stat -c '%s %Y' "$kernel") $kernel"
if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$key" ]; then
  out=$(sed -n 2p "$stamp")
  ver=$(sed -n 3p "$stamp")
  if [ -s "$out" ]; then
    echo "PERF_TARBALL=$out"
    echo "PERF_VERSION=$ver"
    exit 0
  fi
fi

work=$(mktemp -d "$cache/.perf-src.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Pass 1: the top Makefile (for the version) and the MANIFEST. Without match-slash, '*' is the
# single top directory, whatever the tarball calls it.
tar -xJf "$kernel" -C "$work" --wildcards --no-wildcards-match-slash '*/Makefile' '*/tools/perf/MANIFEST'
top=$(find "$work" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n1)
if [ -z "$top" ] || [ ! -f "$work/$top/tools/perf/MANIFEST" ]; then
  echo "perf-src-tarball: $kernel has no */tools/perf/MANIFEST" >&2
  exit 1
fi

# kernelversion, as `make kernelversion` prints it (that target needs the whole tree).
ver=$(awk -F' *= *' '
  $1=="VERSION"{v=$2} $1=="PATCHLEVEL"{p=$2} $1=="SUBLEVEL"{s=$2} $1=="EXTRAVERSION"{e=$2}
  /^$/ && v!="" && p!="" {exit}
  END{ if (v=="" || p=="") exit 1; printf "%s.%s", v, p; if (s!="" && s!="0") printf ".%s", s; printf "%s\n", e }' "$work/$top/Makefile")
case $ver in
  [0-9]*.[0-9]*) ;;
  *) echo "perf-src-tarball: cannot read the kernel version from $top/Makefile" >&2; exit 1 ;;
esac

mapfile -t manifest < <(grep -v -e '^[[:space:]]*$' -e '^#' "$work/$top/tools/perf/MANIFEST")
# Pass 2: exactly the listed paths (tar fails if one is missing: an incomplete tree is no use).
tar -xJf "$kernel" -C "$work" "${manifest[@]/#/$top/}"

name="perf-$ver"
mv "$work/$top" "$work/$name"
printf '#define PERF_VERSION "%s"\n' "$ver" >"$work/$name/PERF-VERSION-FILE"
touch -r "$work/$name/Makefile" "$work/$name/PERF-VERSION-FILE"

out="$cache/$name.tar.xz"
# Some directories have no entry of their own in the kernel tarball, so tar created them with the
# current time: clamp every mtime to the kernel Makefile's, which keeps the output reproducible.
epoch=$(stat -c %Y "$work/$name/Makefile")
(cd "$work" && tar --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
    --mtime="@$epoch" --clamp-mtime -cf - \
    "$name/PERF-VERSION-FILE" "${manifest[@]/#/$name/}") | xz -T1 -6 >"$out.part"
mv "$out.part" "$out"
printf '%s\n%s\n%s\n' "$key" "$out" "$ver" >"$stamp"
echo "PERF_TARBALL=$out"
echo "PERF_VERSION=$ver"
