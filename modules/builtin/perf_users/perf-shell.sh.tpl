#!/bin/sh
# perfprov builtin/perf_users: the perf-security guide's capabilities-enabled shell, for hosts
# where perf cannot carry file capabilities (nosuid mounts, filesystems without xattrs).
# Written by perfprov: edits are overwritten on the next apply.
#
# Members of ${group} run:  sudo ${path}
# and get their own login shell with ${caps} in its ambient set (every
# program started from it, perf included, has them); everyone else is refused.
set -eu
u=$${SUDO_USER:-}
if [ "$(id -u)" != 0 ] || [ -z "$u" ] || [ "$u" = root ]; then
	echo "run it as a member of ${group}, through sudo: sudo $0" >&2
	exit 1
fi
if ! id -nG "$u" | tr ' ' '\n' | grep -qx '${group}'; then
	echo "$u is not a member of ${group}" >&2
	exit 1
fi
exec '${capsh}' --caps='${caps}+eip cap_setpcap,cap_setuid,cap_setgid+ep' --keep=1 --user="$u" --addamb='${caps}' -- -l
