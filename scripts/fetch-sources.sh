#!/usr/bin/env bash
# Fetches the real upstream sources the perf modules build, into a cache (never committed):
#   libcap: the upstream tarball from Debian's libcap2 source package (libcap2_*.orig.tar.xz)
#   perf:   the kernel tree from Debian's linux-source-6.1 package (linux-source-6.1.tar.xz), and
#           from it a perf-only source tarball (perf-<kernelversion>.tar.xz, scripts/perf-src-tarball.sh)
# It uses a private apt state directory with deb-src entries, so the system's sources are untouched.
# Prints the paths as shell assignments: LIBCAP_TARBALL=... KERNEL_TARBALL=... PERF_TARBALL=...
# (and PERF_VERSION=...)
set -euo pipefail

cache=${PERFPROV_SOURCES:-/var/cache/perfprov/sources}
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

libcap=$(ls "$cache"/libcap2_*.orig.tar.xz 2>/dev/null | head -n1 || true)
kernel="$cache/linux-source-6.1.tar.xz"

if [ -z "$libcap" ] || [ ! -s "$kernel" ]; then
  state="$cache/.apt"
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/etc"
  # The system's own mirrors, as deb-src.
  : >"$state/etc/sources.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && grep -E '^deb ' "$f" | sed 's/^deb /deb-src /' >>"$state/etc/sources.list" || true
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/{u=$2} /^Suites:/{ $1=""; s=$0 } /^Components:/{ $1=""; c=$0 } /^$/{ if(u) { n=split(s,a," "); for(i=1;i<=n;i++) print "deb-src " u " " a[i] c }; u="" } END{ if(u) { n=split(s,a," "); for(i=1;i<=n;i++) print "deb-src " u " " a[i] c } }' "$f" >>"$state/etc/sources.list"
    awk '/^URIs:/{u=$2} /^Suites:/{ $1=""; s=$0 } /^Components:/{ $1=""; c=$0 } /^$/{ if(u) { n=split(s,a," "); for(i=1;i<=n;i++) print "deb " u " " a[i] c }; u="" } END{ if(u) { n=split(s,a," "); for(i=1;i<=n;i++) print "deb " u " " a[i] c } }' "$f" >>"$state/etc/sources.list"
  done
  opts=(-o "Dir::Etc::SourceList=$state/etc/sources.list" -o "Dir::Etc::SourceParts=-"
        -o "Dir::State::Lists=$state/lists" -o "Dir::Cache::Archives=$state/archives"
        -o "Dir::Cache=$state" -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
  apt-get "${opts[@]}" -qq update >&2
  if [ -z "$libcap" ]; then
    (cd "$cache" && apt-get "${opts[@]}" -qq source --download-only libcap2 >&2)
    libcap=$(ls "$cache"/libcap2_*.orig.tar.xz | head -n1)
  fi
  if [ ! -s "$kernel" ]; then
    tmp=$(mktemp -d "$cache/.kernel.XXXXXX")
    (cd "$tmp" && apt-get "${opts[@]}" -qq download linux-source-6.1 >&2)
    dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.1_*.deb | tar -x -C "$tmp" ./usr/src/linux-source-6.1.tar.xz
    mv "$tmp/usr/src/linux-source-6.1.tar.xz" "$kernel.part" && mv "$kernel.part" "$kernel"
    rm -rf "$tmp"
  fi
fi
echo "LIBCAP_TARBALL=$libcap"
echo "KERNEL_TARBALL=$kernel"
# The perf-only source tarball (about 2.7 MB instead of 138 MB) that hosts receive; cached too.
# Prints PERF_TARBALL=... and PERF_VERSION=...
PERFPROV_SOURCES=$cache "$(dirname "$0")/perf-src-tarball.sh" "$kernel"
