#!/bin/sh
# Records real perf stat outputs (stderr, where perf stat writes) into testdata/perf<VERSION>/.
# Run as root on a host with perf installed; the unprivileged cases run as "nobody" and need
# kernel.perf_event_paranoid = 2. Re-running overwrites the files of that perf version.
set -u
cd "$(dirname "$0")"
ver=$(perf --version | sed -n 's/^perf version \([0-9]*\.[0-9]*\).*/\1/p')
dir=perf$ver
mkdir -p "$dir"
hw=cycles,instructions,branches,branch-misses,task-clock,context-switches
rec() { # rec NAME USER ARGS... : stderr of perf stat into NAME.txt, exit status into NAME.rc
	name=$1 user=$2
	shift 2
	if [ "$user" = root ]; then
		perf stat "$@" 2>"$dir/$name.txt" >/dev/null
	else
		runuser -u "$user" -- perf stat "$@" 2>"$dir/$name.txt" >/dev/null
	fi
	echo $? >"$dir/$name.rc"
}
for fmt in csv json; do
	case $fmt in csv) f=-x, ;; json) f=-j ;; esac
	rec $fmt-software root $f -e task-clock,cpu-clock,page-faults,context-switches,cpu-migrations -- sleep 0.1
	rec $fmt-default-events root $f -e $hw -- sleep 0.1
	rec $fmt-repeat root $f -r 3 -e task-clock,cycles,page-faults -- sleep 0.05
	rec $fmt-system-wide root $f -a -e task-clock,cycles,context-switches -- sleep 0.1
	rec $fmt-unknown-event root $f -e task-clock,no-such-event -- true
	rec $fmt-user-fallback nobody $f -e $hw -- sleep 0.1
	rec $fmt-system-wide-refused nobody $f -a -e task-clock -- sleep 0.1
done
uname -r >"$dir/kernel"
perf --version >"$dir/version"
cat /proc/sys/kernel/perf_event_paranoid >"$dir/paranoid"
