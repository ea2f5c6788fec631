#!/bin/sh
# perfprov builtin/perf helper. Written by perfprov: edits are overwritten on the next apply.
#
#   helper.sh check-prefix PREFIX [-q]     exit 0 when binaries under PREFIX can carry file
#                                          capabilities that exec honours and only root can
#                                          change the directories above them; else say why and
#                                          propose another prefix (-q: silent)
#   helper.sh real-perf                    print the distribution's perf ELF, found through
#                                          symlinks and behind wrapper scripts
#   helper.sh install-real-perf DEST       copy that ELF to DEST (0750 root:root, never
#                                          world-executable, renamed into place)
#   helper.sh install-real-perf DEST -check  exit 0 when DEST already has its content
set -u

is_elf() {
	[ -f "$1" ] && [ "$(od -An -c -N4 -- "$1" 2>/dev/null | tr -d ' ')" = '177ELF' ]
}

# mount_of PATH: three lines, the mount point, filesystem type and options of the mount that
# holds PATH (an existing, resolved path): the longest mount point that is a prefix of it, the
# last one listed when several are stacked. (PERFPROV_MOUNTINFO: another mountinfo, for tests.)
mount_of() {
	awk -v p="$1" '{ m = $5; gsub(/\\040/, " ", m); pre = (m == "/") ? "/" : m "/";
	  if (index(p "/", pre) == 1 && length(m) >= bl) { bl = length(m); mp = m; mo = $6; for (i = 7; $i != "-"; i++); ft = $(i + 1) } }
	  END { print mp; print ft; print mo }' "${PERFPROV_MOUNTINFO:-/proc/self/mountinfo}"
}

# problem PATH: prints why file capabilities cannot work under PATH (empty: they can).
problem() {
	p=$1
	while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done
	r=$(readlink -f -- "$p")
	{ read -r mp; read -r ft; read -r mo; } <<EOF
$(mount_of "$r")
EOF
	case ",$mo," in
	*,nosuid,*)
		echo "$1 is on a nosuid mount ($mp, $ft, options $mo): setcap would succeed there but exec ignores file capabilities"
		return ;;
	*,noexec,*)
		echo "$1 is on a noexec mount ($mp, $ft, options $mo): nothing can be executed there"
		return ;;
	esac
	case $ft in
	ramfs | vfat | msdos | exfat | ntfs | ntfs3 | iso9660 | squashfs | nfs | nfs4 | cifs | smb3 | 9p)
		echo "$1 is on a $ft filesystem ($mp), which cannot hold the security.capability extended attribute that file capabilities live in"
		return ;;
	esac
	# A user who owns or may write a directory of the prefix could swap the binary that gets
	# capabilities (the capabilities resource refuses it too, after the build: this says so first).
	d=$r
	while :; do
		own=$(stat -c '%u %U %a' -- "$d") || return
		case $own in
		"0 "*" "*[2367]? | "0 "*" "*[2367]) echo "$d is writable by group or others (mode ${own##* }): a user could swap the binary that gets capabilities"; return ;;
		"0 "*) ;;
		*) u=${own#* }; echo "$d is owned by ${u% *}, not root: that user could swap the binary that gets capabilities"; return ;;
		esac
		[ "$d" = / ] && break
		d=${d%/*}; [ -n "$d" ] || d=/
	done
}

check_prefix() {
	why=$(problem "$1")
	[ -z "$why" ] && return 0
	[ "${2:-}" = -q ] && return 1
	alt=
	for c in /opt/perf /usr/local/perf /usr/local/lib/perf /usr/lib/perfprov/perf; do
		[ "$c" = "$1" ] && continue
		if [ -z "$(problem "$c")" ]; then alt=$c; break; fi
	done
	echo "refusing prefix $1: $why." >&2
	if [ -n "$alt" ]; then
		echo "Install perf under a root-owned prefix on a mount without nosuid that keeps extended attributes, for example prefix = \"$alt\" in the perf module (and the same path/bin/perf for perf_users)." >&2
	else
		echo "Install perf under a prefix on a local filesystem mounted without nosuid (none of /opt, /usr/local, /usr qualifies on this host), or use the perf_users module's perf_shell." >&2
	fi
	return 1
}

real_perf() {
	p=$(command -v perf 2>/dev/null) || p=
	if [ -n "$p" ]; then
		r=$(readlink -f -- "$p")
		if is_elf "$r"; then echo "$r"; return 0; fi
	fi
	# A wrapper script (Ubuntu's /usr/bin/perf, Debian <= 11's): the running kernel's perf first.
	rel=$(uname -r)
	for c in "/usr/lib/linux-tools/$rel/perf" "/usr/lib/linux-tools-$rel/perf" "/usr/bin/perf_$(echo "$rel" | cut -d. -f1-2)"; do
		r=$(readlink -f -- "$c" 2>/dev/null) || continue
		if is_elf "$r"; then echo "$r"; return 0; fi
	done
	# Else the newest installed one.
	for c in $(ls -1d /usr/lib/linux-tools/*/perf /usr/lib/linux-tools-*/perf /usr/bin/perf_[0-9]* 2>/dev/null | sort -V -r); do
		r=$(readlink -f -- "$c")
		if is_elf "$r"; then echo "$r"; return 0; fi
	done
	if [ -n "$p" ]; then
		echo "no perf ELF found: $p is not one, and no linux-tools perf is installed" >&2
	else
		echo "perf is not installed (no perf in PATH)" >&2
	fi
	return 1
}

install_real_perf() {
	dest=$1
	real=$(real_perf) || return 1
	if [ "${2:-}" = -check ]; then
		cmp -s -- "$real" "$dest"
		return
	fi
	dir=$(dirname -- "$dest")
	mkdir -p -- "$dir"
	tmp=$(mktemp "$dir/.perf.XXXXXX") || return 1
	# mktemp makes it 0600: the copy is never executable by others, not even for an instant.
	if cp -- "$real" "$tmp" && chown root:root "$tmp" && chmod 0750 "$tmp" && mv -f -- "$tmp" "$dest"; then
		echo "installed $real as $dest"
		return 0
	fi
	rm -f -- "$tmp"
	return 1
}

case ${1:-} in
check-prefix) check_prefix "${2:?prefix}" "${3:-}" ;;
real-perf) real_perf ;;
install-real-perf) install_real_perf "${2:?destination}" "${3:-}" ;;
*)
	echo "usage: $0 check-prefix PREFIX [-q] | real-perf | install-real-perf DEST [-check]" >&2
	exit 2
	;;
esac
