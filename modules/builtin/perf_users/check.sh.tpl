#!/bin/sh
# perfprov builtin/perf_users check. Written by perfprov: edits are overwritten on the next apply.
#
# Confirms, the way the kernel's perf-security guide does, that the setup works: a member of
# ${group} (never root) starts perf system-wide, and perf reads its own capabilities from
# /proc/PID/status (the workload perf starts is its child: /proc/$PPID/status is perf's); the
# effective set must be exactly ${want_names}. A user outside the group must be refused.
# Run as root. Exit 0 when all holds; else the first problem on stderr. -q: silent on success.
perf='${perf}'
group='${group}'
member='${member}'
nonmember='${non_member}'
bits='${bits}'

quiet=
[ "$${1:-}" = -q ] && quiet=1
fail() { echo "perf_users: $*" >&2; exit 1; }
in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; }
# as_user USER CMD ARG...: runs CMD as USER, with USER's groups; runuser is util-linux's, su the
# fallback where it is missing (busybox: Alpine). su's -s keeps a nologin account usable; the
# words after the user are the shell's $0, $1... and "--" keeps su from taking CMD's options
# (perf's -a) as its own: both util-linux's and busybox's su reorder options otherwise.
as_user() {
	u=$1
	shift
	if command -v runuser >/dev/null 2>&1; then
		runuser -u "$u" -- "$@"
	else
		su -s /bin/sh -c 'exec "$0" "$@"' -- "$u" "$@"
	fi
}

want=0
for b in $bits; do want=$((want | (1 << b))); done
want=$(printf '%016x' "$want")

[ -e "$perf" ] || fail "$perf does not exist"
set -- $(stat -L -c '%U %G %a' -- "$perf")
[ "$1:$2 $3" = "root:$group 750" ] || fail "$perf is $1:$2 mode $3, not root:$group mode 750"

eff=
if [ -n "$member" ]; then
	id "$member" >/dev/null 2>&1 || fail "member $member does not exist"
	in_group "$member" || fail "member $member is not in group $group"
	out=$(cd / && as_user "$member" "$perf" stat -a -e task-clock -x, -- /bin/sh -c 'grep "^CapEff:" "/proc/$PPID/status"' 2>&1)
	rc=$?
	eff=$(printf '%s\n' "$out" | awk '/^CapEff:/ { print $2; exit }')
	if [ $rc -ne 0 ] || [ -z "$eff" ]; then
		first=$(printf '%s\n' "$out" | grep -v -e '^CapEff:' -e '^[[:space:]]*$' -e '^Error:[[:space:]]*$' | head -n 1)
		caps=$(getcap "$perf" 2>/dev/null | sed 's/^[^ ]* //')
		fail "member $member: perf stat -a failed (exit $rc: $first); capabilities on $perf: $${caps:-none}"
	fi
	[ "$eff" = "$want" ] || fail "member $member: perf runs with CapEff $eff, expected exactly $want (${want_names})"
fi

if [ -n "$nonmember" ]; then
	if id "$nonmember" >/dev/null 2>&1; then
		in_group "$nonmember" && fail "non-member $nonmember is in group $group"
		if out=$(cd / && as_user "$nonmember" "$perf" --version 2>&1); then
			fail "non-member $nonmember can run $perf: it must be refused"
		fi
		case $out in
		*"ermission denied"*) ;;
		*) fail "non-member $nonmember: $perf failed, but not with 'Permission denied': $out" ;;
		esac
	fi
fi

[ -n "$quiet" ] || echo "ok: $${member:-(no member)}'s perf stat -a ran with CapEff $${eff:-(not checked)} (${want_names}); $${nonmember:-(no non-member)} is refused"
