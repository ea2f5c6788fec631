# perfprov facts script, format 1. POSIX sh (dash, busybox ash, bash --posix); runs as the login
# user and needs no privilege. Every probe tolerates a missing file or command: what cannot be read
# is not printed, and the parser decides what its absence means.
#
# Output: a header line, KEY=VALUE lines (a key may repeat; a value is one line, taken as is), and
# an end line, which tells a complete answer from a truncated one. Lines before the header (a
# chatty shell rc file) are ignored by the parser. Files are dumped as file=PATH<TAB>LINE.
#
# Cost matters: this runs on every host of every run, and a process start costs milliseconds. So
# the shell does without subshells and external commands where it can (builtins, globs, cd -P),
# a single stat gives perf's fingerprint and a single awk reads every file. The external commands
# are stat, awk and perf --version (when perf exists; perf only when its version is not known),
# sudo -n true (non-root only), and readlink or uname only where there is no other way.
#
# It may run in the shell of a batched read that follows it (GatherThen): it then also does that
# read's prelude (package prelude) in its stat and awk, leaves what they found in _pp_stat and
# _pp_fx, and puts back PATH, LC_ALL, PAGER and PERF_PAGER as it found them. It never exits.

# What it changes of the environment, to put back at the end.
_pp_e1=${PATH-} _pp_s1=${PATH+x} _pp_e2=${LC_ALL-} _pp_s2=${LC_ALL+x}
_pp_e3=${PAGER-} _pp_s3=${PAGER+x} _pp_e4=${PERF_PAGER-} _pp_s4=${PERF_PAGER+x}
unset _pp_stat _pp_fx _pp_pre
# Non-interactive SSH sessions often lack the sbin directories where setcap and friends live.
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"
LC_ALL=C
PAGER='cat'
PERF_PAGER='cat'
export PATH LC_ALL PAGER PERF_PAGER
_here=$PWD
# What the controller already knows about this host's perf (see below); empty when nothing.
_known_fp=@KNOWN_FP@
_known_version=@KNOWN_VERSION@
_tab='	'

kv() { printf '%s=%s\n' "$1" "$2"; }

# lookup NAME: set _w to the first executable NAME on PATH, like command -v but without a subshell.
lookup() {
	_w=
	set -f
	_ifs=$IFS
	IFS=:
	for _d in $PATH; do
		case $_d in /*) ;; *) continue ;; esac
		if [ -f "$_d/$1" ] && [ -x "$_d/$1" ]; then
			_w=$_d/$1
			break
		fi
	done
	IFS=$_ifs
	set +f
	[ -n "$_w" ]
}

# physical PATH: set _phys to PATH with the symlinks of its directories resolved (cd -P, no subshell).
physical() {
	_phys=$1
	if cd -P "${1%/*}/" 2>/dev/null; then
		_phys=${PWD%/}/${1##*/}
		cd "$_here" 2>/dev/null || cd /
	fi
}

echo 'perfprov-facts 1'

# The kernel release names /boot/config-RELEASE and the linux-tools directory. (Only string files
# of /proc/sys can be read a byte at a time, as the shell's read does; awk reads the numbers.)
_kr=
[ -r /proc/sys/kernel/osrelease ] && IFS= read -r _kr </proc/sys/kernel/osrelease
[ -n "$_kr" ] || _kr=$(uname -r 2>/dev/null)
_arch=
[ -r /proc/sys/kernel/arch ] && IFS= read -r _arch </proc/sys/kernel/arch
if [ -z "$_arch" ]; then
	_arch=$(uname -m 2>/dev/null)
	kv uname.arch "$_arch"
fi

# Who we are: the shell's own Uid line (root needs no sudo).
_uid=
if [ -r /proc/self/status ]; then
	while IFS= read -r _l; do
		case $_l in Uid:*)
			set -f
			# shellcheck disable=SC2086 # split the line into its fields on purpose
			set -- $_l
			set +f
			_uid=$2
			break
			;;
		esac
	done </proc/self/status
fi
kv env.user "${LOGNAME:-$USER}"

# Distribution tools: every package manager found (the parser picks the distribution's own: an
# Arch host may have dnf too).
for _p in apt-get dnf yum zypper apk pacman; do
	lookup "$_p" && kv pkg "$_p"
done
if lookup sudo; then
	kv sudo.path "$_w"
	if [ "$_uid" != 0 ]; then
		if sudo -n true </dev/null >/dev/null 2>&1; then
			kv sudo.nopasswd yes
		else
			kv sudo.nopasswd no
		fi
	fi
fi

# Performance monitoring units and other event sources.
for _d in /sys/bus/event_source/devices/*; do
	[ -e "$_d" ] && kv event_source "${_d##*/}"
done

# Install prefixes, as given and resolved (symlinks followed): awk picks their mounts.
_res=
for _x in @PREFIXES@; do
	_r=$_x
	if cd -P "$_x" 2>/dev/null; then
		_r=$PWD
		cd "$_here" 2>/dev/null || cd /
	fi
	kv prefix "$_x $_r"
	_res="$_res$_r
"
done

# perf: where it is, what it really is, and what it says about itself. A wrapper (Ubuntu, Debian
# <= 11) prints an error instead of a version when the perf of the running kernel is missing.
_perf=
_pv=
if lookup perf; then
	_perf=$_w
	kv perf.path "$_perf"
	if [ -L "$_perf" ]; then
		_r=$(readlink -f "$_perf" 2>/dev/null) || _r=
		[ -n "$_r" ] || _r=$(realpath "$_perf" 2>/dev/null) || _r=
		[ -n "$_r" ] && _perf=$_r
	fi
	physical "$_perf"
	_perf=$_phys
	kv perf.real_path "$_perf"
fi
# One stat: perf's fingerprint, and the paths of the read that follows.
set -- @STAT_PATHS@
[ -n "$_perf" ] && set -- "$_perf" "$@"
[ $# -gt 0 ] && _pp_stat=$(stat -L -c @STAT_FORMAT@ -- "$@" 2>/dev/null)
if [ -n "$_perf" ]; then
	# Starting perf costs tens of milliseconds (dozens of libraries to map). When the controller
	# knows this very file (same inode, size and times, owner and mode: stat), it passes the
	# version it read from it before, and perf is not started again.
	_fp=
	_ifs=$IFS
	IFS='
'
	set -f
	_n=
	for _l in ${_pp_stat-}; do
		if [ -n "$_n" ]; then
			_fp=$_l
			break
		fi
		[ "$_l" = "$_perf" ] && _n=1
	done
	IFS=$_ifs
	set +f
	kv perf.fingerprint "$_fp"
	if [ -n "$_fp" ] && [ "$_fp" = "$_known_fp" ] && [ -n "$_known_version" ]; then
		_pv="perf version $_known_version"
		kv perf.version_status 0
		kv perf.version_known yes
	else
		_pv=$("$_w" --version 2>&1 </dev/null)
		kv perf.version_status "$?"
	fi
fi
for _c in "/usr/lib/linux-tools/$_kr/perf" /usr/lib/linux-tools/*/perf /usr/lib/linux-tools-*/perf /usr/bin/perf_[0-9]*; do
	[ -f "$_c" ] && [ -x "$_c" ] && kv perf.candidate "$_c"
done

# libcap: the tools, and the libraries whose file names carry the version: first the one next to
# setcap (a build installed under its own prefix), then the system's.
for _t in setcap getcap capsh; do
	lookup "$_t" && kv "libcap.$_t" "$_w"
done
_libs=
if lookup setcap; then
	physical "$_w"
	_libs="${_phys%/*/*}/lib/libcap.so.2.* ${_phys%/*/*}/lib64/libcap.so.2.*"
fi
# shellcheck disable=SC2086 # globs on purpose
for _l in $_libs /lib/libcap.so.2.* /lib64/libcap.so.2.* /lib/*/libcap.so.2.* /usr/lib/libcap.so.2.* \
	/usr/lib64/libcap.so.2.* /usr/lib/*/libcap.so.2.* /usr/local/lib/libcap.so.2.* /usr/local/lib64/libcap.so.2.*; do
	[ -f "$_l" ] && kv libcap.lib "$_l"
done

_osr=/etc/os-release
[ -r "$_osr" ] || _osr=/usr/lib/os-release

# Every file at once. Only readable files are named (mawk gives up at the first one it cannot open).
set --
for _f in /proc/sys/kernel/osrelease /proc/sys/kernel/version /proc/sys/kernel/arch \
	/proc/sys/kernel/cap_last_cap /proc/sys/kernel/perf_event_paranoid /proc/sys/kernel/kptr_restrict \
	/proc/sys/kernel/nmi_watchdog /sys/devices/system/cpu/online "$_osr" \
	/proc/cpuinfo /proc/self/status /etc/passwd /etc/group /proc/self/mountinfo "/boot/config-$_kr" \
	/etc/ssh/ssh_host_*_key.pub; do
	[ -r "$_f" ] && set -- "$@" "$_f"
done
if lookup awk; then
	case " $* " in *" /boot/config-$_kr "*) kv kconfig.path "/boot/config-$_kr" ;; esac
	# The files of the read that follows, each once.
	@FILE_LIST@
	_ifs=$IFS
	IFS='
'
	set -f
	for _f in $_pp_xl; do
		_n=
		for _l; do
			if [ "$_l" = "$_f" ]; then
				_n=1
				break
			fi
		done
		[ -n "$_n" ] || set -- "$@" "$_f"
	done
	IFS=$_ifs
	set +f
	# What the read wants prints first, to be cut off into _pp_fx: the facts' own lines wait
	# in ob until the end.
	_pp_fo=$(@AWK_ENV@ PP_PREFIXES=$_res PP_PERF=$_perf PP_PERFOUT=$_pv "$_w" '
	function o(s) { ob[++on] = s }
	BEGIN {
@AWK_BEGIN@
		# Mount points that can hold a prefix: every ancestor of every resolved prefix.
		anc["/"] = 1
		n = split(ENVIRON["PP_PREFIXES"], pf, "\n")
		for (i = 1; i <= n; i++) {
			for (p = pf[i]; p != "" && p != "/"; sub(/\/[^\/]*$/, "", p)) anc[p] = 1
		}
		perf = ENVIRON["PP_PERF"]
		if (perf != "") {
			head = ""
			if ((getline head < perf) > 0) {
				if (substr(head, 1, 4) == "\177ELF") o("perf.magic=elf")
				else if (substr(head, 1, 2) == "#!") o("perf.magic=script")
				else o("perf.magic=other")
			}
			close(perf)
			n = split(ENVIRON["PP_PERFOUT"], out, "\n")
			for (i = 1; i <= n && i <= 4; i++) o("perf.version_out=" out[i])
		}
	}
@AWK_RULES@
	FNR == 1 { skip = 0 }
	skip { next }
	FILENAME == "/proc/cpuinfo" {
		# The first processor is enough; its flag lists are long and unused.
		if ($0 == "" && FNR > 1) { skip = 1; next }
		if ($1 ~ /^(flags|bugs|Features|vmx)$/) next
	}
	FILENAME == "/proc/self/status" {
		if ($1 == "Uid:") uid = $2
		if ($1 == "Gid:") gids[$2] = 1
		if ($1 == "Groups:") for (i = 2; i <= NF; i++) gids[$i] = 1
		if ($1 !~ /^(Uid|Gid|Groups|NoNewPrivs|CapBnd|CapEff):$/) next
	}
	FILENAME == "/etc/passwd" { split($0, f, ":"); if (f[3] != uid) next }
	FILENAME == "/etc/group" { split($0, f, ":"); if (!(f[3] in gids)) next }
	FILENAME == "/proc/self/mountinfo" { if (!($5 in anc)) next }
	FILENAME ~ /^\/boot\/config-/ { if ($0 !~ /^CONFIG_SECURITY_PERF_EVENTS_RESTRICT=/) next }
	{ o("file=" FILENAME "\t" $0) }
	END {
@AWK_END@
		for (i = 1; i <= on; i++) print ob[i]
	}
	' "$@" </dev/null)
	_n=$?
	kv awk.status "$_n"
	printf '%s\n' "$_pp_fo"
	_pp_fo="
$_pp_fo
"
	# The last lines of the read's part are the mounts' and x.end=1, a line that no file's
	# line can be.
	[ "$_n" = 0 ] && case $_pp_fo in *"
x.end=1
"*) _pp_fx=${_pp_fo%%"
x.end=1
"*} ;; esac
	_pp_fo=
else
	# No awk: the shell reads what it can (numbers in /proc/sys need a whole read: cat).
	for _f in "$@"; do
		case $_f in
		/proc/sys/kernel/cap_last_cap | /proc/sys/kernel/perf_event_paranoid | /proc/sys/kernel/kptr_restrict | /proc/sys/kernel/nmi_watchdog)
			kv file "$_f$_tab$(cat "$_f" 2>/dev/null)"
			;;
		/boot/*) ;;
		*)
			while IFS= read -r _l || [ -n "$_l" ]; do
				kv file "$_f$_tab$_l"
				[ "$_f" = /proc/cpuinfo ] && [ -z "$_l" ] && break
			done <"$_f"
			;;
		esac
	done
	if [ -n "$_perf" ]; then
		kv perf.magic_hex "$(od -An -tx1 -N4 "$_perf" 2>/dev/null)"
		printf '%s\n' "$_pv" | while IFS= read -r _l; do kv perf.version_out "$_l"; done
	fi
fi

# ARM's /proc/cpuinfo names no model; lscpu decodes the MIDR register.
case $_arch in
aarch64* | arm*) lookup lscpu && kv lscpu.model "$(LC_ALL=C "$_w" 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p')" ;;
esac

echo 'end perfprov-facts'

# Put back the environment for what follows in this shell.
if [ -n "$_pp_s1" ]; then PATH=$_pp_e1; else unset PATH; fi
if [ -n "$_pp_s2" ]; then LC_ALL=$_pp_e2; else unset LC_ALL; fi
if [ -n "$_pp_s3" ]; then PAGER=$_pp_e3; else unset PAGER; fi
if [ -n "$_pp_s4" ]; then PERF_PAGER=$_pp_e4; else unset PERF_PAGER; fi
cd "$_here" 2>/dev/null || cd /
_pp_pre=@PRELUDE_TOKEN@
