#!/usr/bin/env bash
# make dist: static perfprov binaries for linux/amd64 and linux/arm64, a .deb and an .rpm of
# each (nfpm, pinned in tools/dist/go.mod), and SHA256SUMS of them all, in DIR (default dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The version: the nearest tag (v1.2.3 -> 1.2.3, with -N-gHASH past it), else 0.0.0+git and the
# commit; -dirty for uncommitted changes.
if version=$(git describe --tags --dirty 2>/dev/null); then
  version=${version#v}
else
  version="0.0.0+git$(git describe --always --dirty 2>/dev/null || echo unknown)"
fi
for arch in amd64 arm64; do
  bin="$out/perfprov-linux-$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$bin" ./cmd/perfprov
  conf="$out/.nfpm-$arch.yaml"
  sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@BINARY@|$bin|" tools/dist/nfpm.yaml > "$conf"
  for fmt in deb rpm; do
    (cd tools/dist && go tool nfpm package --config "$conf" --packager "$fmt" --target "$out/" >/dev/null)
  done
  rm -f "$conf"
done
(cd "$out" && rm -f SHA256SUMS && sha256sum -- perfprov-linux-* perfprov_* perfprov-*.rpm > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
ls -1 "$out"
