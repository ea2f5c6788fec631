package bench

import (
	"fmt"
	"strings"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/captrust"
)

// The on-host procedure is one script run as the member (one round trip) plus one tiny probe
// run as a non-member at the same time. The script prints sections between marker lines; each
// section holds the raw output of one step, which the controller parses (parseScriptOutput).
const (
	markBegin   = "@@perfprov-bench begin v1"
	markSection = "@@perfprov-bench section "
	markEnd     = "@@perfprov-bench end "
)

// LoopInstructions is the number of instructions one iteration of the workload's loop retires,
// on every architecture the workload supports.
const LoopInstructions = 10

// workloadC is the deterministic workload: a loop of exactly LoopInstructions instructions per
// iteration, in inline assembly so that no compiler changes it. It needs no header and no libc
// call, so a bare cc can build it. "loop N" runs N iterations; "loop 0" runs none, which measures
// the fixed cost of starting a process.
//
// On x86-64 a nop separates the flag-setting sub from the jnz: adjacent sub/jnz may be
// macro-fused, and whether a fused pair counts as one or two retired instructions differs between
// vendors. Separated, every vendor counts ten.
const workloadC = `/* perfprov bench workload: LOOP_INSNS retired instructions per iteration. */
#if defined(__x86_64__)
static void loop(unsigned long n)
{
	unsigned long a = 0, b = 0;
	__asm__ volatile(
		"1:\n\t"
		"add $1, %1\n\t"
		"add $1, %2\n\t"
		"add $1, %1\n\t"
		"add $1, %2\n\t"
		"add $1, %1\n\t"
		"add $1, %2\n\t"
		"xor %1, %2\n\t"
		"sub $1, %0\n\t"
		"nop\n\t"
		"jnz 1b\n\t"
		: "+r"(n), "+r"(a), "+r"(b) : : "cc");
}
#elif defined(__aarch64__)
static void loop(unsigned long n)
{
	unsigned long a = 0, b = 0;
	__asm__ volatile(
		"1:\n\t"
		"add %1, %1, #1\n\t"
		"add %2, %2, #1\n\t"
		"add %1, %1, #1\n\t"
		"add %2, %2, #1\n\t"
		"add %1, %1, #1\n\t"
		"add %2, %2, #1\n\t"
		"eor %2, %2, %1\n\t"
		"subs %0, %0, #1\n\t"
		"nop\n\t"
		"b.ne 1b\n\t"
		: "+r"(n), "+r"(a), "+r"(b) : : "cc");
}
#else
#error "perfprov bench: no workload for this architecture"
#endif

int main(int argc, char **argv)
{
	unsigned long n = 0;
	const char *p;

	if (argc > 1)
		for (p = argv[1]; *p >= '0' && *p <= '9'; p++)
			n = n * 10 + (unsigned long)(*p - '0');
	if (n > 0)
		loop(n);
	return 0;
}
`

// scriptParams are the values the member script needs; every one is quoted into the script.
type scriptParams struct {
	Perf       string   // path of perf, or a bare name looked up in PATH
	Events     []string // requested events
	Repeat     int
	Iterations uint64 // N: the accuracy runs use 0, N and 2N
}

// memberScript returns the script run as the member. It never needs privilege: every file it
// reads is world-readable (/proc/sys, /proc/PID/status, /sys/bus/event_source).
func memberScript(p scriptParams) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("PERF=%s\n", shell.Quote(p.Perf))
	w("EVENTS=%s\n", shell.Quote(strings.Join(p.Events, ",")))
	w("REPEAT=%d\n", p.Repeat)
	w("N=%d\n", p.Iterations)
	w("N2=%d\n", 2*p.Iterations)
	w("NA=%d\n", max(p.Iterations/10, 1))
	w("EACH=%s\n", shell.Quote(strings.Join(p.Events, "\n")))
	b.WriteString(memberScriptBody)
	return b.String()
}

// memberScriptBody is the fixed part of the member script. Sections:
//
//	facts       key=value lines about the host, the user and the perf binary
//	systemwide  perf stat -a stderr
//	preflight   whether instructions:u counts (skips the accuracy runs on hosts without a PMU)
//	compile     the workload's build
//	events      perf stat of the requested events; "event I" sections when that run failed
//	acc 0|N|2N  perf stat of instructions:u,cycles:u,task-clock on the workload
//	start       the /proc/PID/status lines of the perf started first, then rc= and its stderr
const memberScriptBody = `set -u
echo '` + markBegin + `'
sec() { echo "` + markSection + `$1"; }
fin() { echo "` + markEnd + `$1 rc=$2"; }
sec facts
echo "user=$(id -un)"
echo "uid=$(id -u)"
echo "groups=$(id -Gn)"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "cap_last_cap=$(cat /proc/sys/kernel/cap_last_cap 2>/dev/null)"
echo "paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)"
echo "nmi_watchdog=$(cat /proc/sys/kernel/nmi_watchdog 2>/dev/null)"
echo "kptr_restrict=$(cat /proc/sys/kernel/kptr_restrict 2>/dev/null)"
for d in /sys/bus/event_source/devices/*; do
	[ -e "$d" ] || continue
	n=${d##*/}
	case $n in
	cpu|cpu_core|cpu_atom) echo "pmu=$n" ;;
	*) [ -e "$d/cpus" ] && echo "pmu=$n" ;;
	esac
done
sed -n -e 's/^CapBnd:[[:space:]]*/self_CapBnd=/p' -e 's/^NoNewPrivs:[[:space:]]*/self_NoNewPrivs=/p' /proc/self/status
if [ "$(id -u)" = 0 ]; then
	fin facts 1
	echo "refused: running as root"
	exit 0
fi
case $PERF in
*/*) ;;
*) p=$(command -v "$PERF" 2>/dev/null) && PERF=$p ;;
esac
echo "perf=$PERF"
real=$(readlink -f "$PERF" 2>/dev/null || echo "$PERF")
echo "perf_real=$real"
if st=$(stat -L -c '%a %U %G %F' "$PERF" 2>&1); then
	echo "perf_stat=$st"
	echo "perf_head=$(head -c 2 "$PERF" 2>/dev/null | od -An -c | tr -d ' ')"
else
	echo "perf_stat_error=$st"
	fin facts 0
	echo '` + markEnd + `all'
	exit 0
fi
awk -v p="$real" '{ m = $2; gsub(/\\040/, " ", m)
	if (index(p, m) == 1 && (m == "/" || length(p) == length(m) || substr(p, length(m) + 1, 1) == "/") && length(m) >= best) {
		best = length(m); mp = m; o = $4 } }
	END { if (best) print "mount=" mp " " o }' /proc/self/mounts 2>/dev/null
for g in getcap /sbin/getcap /usr/sbin/getcap; do
	if command -v "$g" >/dev/null 2>&1; then
		echo "filecaps=$("$g" "$real" 2>&1 | head -n 1)"
		break
	fi
done
# What perf is, to tell a run after a package upgrade from the one before (bench -compare).
echo "perf_version=$("$PERF" --version 2>/dev/null | head -n 1)"
echo "perf_sha256=$(sha256sum "$real" 2>/dev/null | cut -d ' ' -f 1)"
# Whether a user other than root could swap perf or what it loads (the same rule as apply's).
_ct_r=$real; _ct_x=
` + captrust.Script + `fin facts 0

tmp=
for d in "${TMPDIR:-/tmp}" /var/tmp /dev/shm "$HOME"; do
	tmp=$(mktemp -d "$d/perfprov-bench.XXXXXX" 2>/dev/null) && break
	tmp=
done
[ -n "$tmp" ] || { echo "error=no writable temporary directory"; exit 0; }
trap 'rm -rf "$tmp"' EXIT

# Privilege: start perf and read the status of the perf process itself (not its child). Its
# name changes to perf's at exec; a zombie means the exec failed. --pre keeps perf alive before
# it opens any counter, so the status is read even where counting then fails (paranoid). The
# probe keeps running while the next steps run; its section is printed at the end.
"$PERF" stat -x, -o /dev/null --pre 'sleep 0.3' -e task-clock -- true >/dev/null 2>"$tmp/start.err" &
pid=$!
want=$(basename "$PERF" | cut -c1-15)
i=0
s=
while :; do
	s=$(cat "/proc/$pid/status" 2>/dev/null) || break
	case $s in *"State:	Z"*) break ;; esac
	[ "$(printf '%s\n' "$s" | sed -n 's/^Name:[[:space:]]*//p')" = "$want" ] && break
	i=$((i + 1))
	[ $i -ge 200 ] && break
	sleep 0.01
done
printf '%s\n' "$s" | grep -E '^(Name|State|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' >"$tmp/start.status"

sec systemwide
"$PERF" stat -a -x, -e task-clock,cycles -- sleep 0.1 >/dev/null 2>"$tmp/out"
rc=$?
cat "$tmp/out"
fin systemwide $rc

sec preflight
"$PERF" stat -x, -e instructions:u -- true >/dev/null 2>"$tmp/out"
rc=$?
cat "$tmp/out"
fin preflight $rc
hw=0
grep -q '^[0-9][0-9.]*,[^,]*,[^,]*instructions' "$tmp/out" && hw=1

work="sleep 0.05"
sec compile
if [ $hw = 0 ]; then
	echo "skipped: instructions:u does not count"
	fin compile 125
elif ! command -v cc >/dev/null 2>&1; then
	echo "skipped: no C compiler (cc) on the host"
	fin compile 127
else
	cat >"$tmp/loop.c" <<'PERFPROV_WORKLOAD_EOF'
` + workloadC + `PERFPROV_WORKLOAD_EOF
	cc -O1 -o "$tmp/loop" "$tmp/loop.c" 2>&1 && "$tmp/loop" 0
	rc=$?
	fin compile $rc
	[ $rc = 0 ] && work="$tmp/loop $NA"
fi

sec events
"$PERF" stat -x, -r "$REPEAT" -e "$EVENTS" -- $work >/dev/null 2>"$tmp/out"
rc=$?
cat "$tmp/out"
fin events $rc
if [ $rc != 0 ] && [ $rc != 126 ] && [ $rc != 127 ]; then
	i=0
	printf '%s\n' "$EACH" | while IFS= read -r ev; do
		sec "event $i"
		"$PERF" stat -x, -e "$ev" -- true >/dev/null 2>"$tmp/out"
		rc=$?
		cat "$tmp/out"
		fin "event $i" $rc
		i=$((i + 1))
	done
fi

if [ -x "$tmp/loop" ]; then
	for n in 0 $N $N2; do
		sec "acc $n"
		"$PERF" stat -x, -r "$REPEAT" -e instructions:u,cycles:u,task-clock -- "$tmp/loop" $n >/dev/null 2>"$tmp/out"
		rc=$?
		cat "$tmp/out"
		fin "acc $n" $rc
	done
fi
wait $pid
rc=$?
sec start
cat "$tmp/start.status"
echo "rc=$rc"
cat "$tmp/start.err"
fin start $rc
echo '` + markEnd + `all'
`

// nonMemberScript returns the probe run as a user outside the perf group: it must not be able
// to execute perf.
func nonMemberScript(perf string) string {
	return "PERF=" + shell.Quote(perf) + "\n" + `echo '` + markBegin + `'
echo "user=$(id -un)"
echo "uid=$(id -u)"
echo "groups=$(id -Gn)"
case $PERF in
*/*) ;;
*) p=$(command -v "$PERF" 2>/dev/null) && PERF=$p ;;
esac
out=$("$PERF" --version 2>&1 >/dev/null)
echo "rc=$?"
printf '%s\n' "$out" | head -n 3
`
}
