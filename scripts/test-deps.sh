#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian 12 machine (run as root), then fetches the
# real sources the perf modules build. The lab (internal/testbed) installs its own prerequisites.
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)      # renders the bench HTML report in tests
# The layout test measures text: one known sans-serif font, so that lines wrap the same everywhere.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v ssh >/dev/null || need+=(openssh-client)     # OpenSSH is the reference in tests and benchmarks
command -v nc >/dev/null || need+=(netcat-openbsd)      # ProxyCommand nc %h %p in the connection tests
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v xz >/dev/null || need+=(xz-utils)
command -v flock >/dev/null || need+=(util-linux)
# The facts script is checked under every common /bin/sh: dash (Debian's), busybox, posh, and by shellcheck.
command -v busybox >/dev/null || need+=(busybox)
command -v posh >/dev/null || need+=(posh)
command -v shellcheck >/dev/null || need+=(shellcheck)
# The bench package runs the real member/non-member procedure on this machine too.
command -v perf >/dev/null || need+=(linux-perf)
command -v setcap >/dev/null || need+=(libcap2-bin)
command -v runuser >/dev/null || need+=(util-linux)
command -v patch >/dev/null || need+=(patch)           # the patch resource is tested on this machine too
# perfprov completion's scripts are run in real shells (bash is there; zsh and fish are not).
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
command -v ansible-playbook >/dev/null || need+=(ansible-core)  # the reference of make bench-wan (Debian 12: Ansible 2.14)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq update
  apt-get -qq install -y --no-install-recommends "${need[@]}" >/dev/null
fi
"$(dirname "$0")/fetch-sources.sh" >/dev/null
