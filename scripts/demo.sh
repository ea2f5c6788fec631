#!/usr/bin/env bash
# make demo: the seed's CAP_PERFMON workflow on a lab of 3 real hosts (see docs/readme/demo.md).
#
#   lab1        examples/cap-perfmon: libcap and perf built from source with patches, the new
#               setcap, perf_users, paranoid 2, a member's CapEff checked
#   lab2, lab3  examples/fleet: the distribution's perf on a small fleet (groups, rollout batches)
#
# The lab stays up afterwards (.lab/demo) and is reused by the next run, which then changes and
# rebuilds nothing. `bin/testbed down -dir .lab/demo` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

LAB=${LAB:-.lab/demo}
PERFPROV=${PERFPROV:-bin/perfprov}
TESTBED=${TESTBED:-bin/testbed}
export NO_COLOR=${NO_COLOR:-}

if [ -t 1 ] && [ -z "$NO_COLOR" ]; then
  step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
  step() { printf '\n==> %s\n' "$*"; }
fi
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root (the lab's hosts are namespaces with their own sshd)" >&2
  exit 1
fi
for b in "$PERFPROV" "$TESTBED"; do
  [ -x "$b" ] || { echo "$b is missing: run make build" >&2; exit 1; }
done

step "Lab: 3 hosts in $LAB"
# Reuse a running lab (testbed up would replace it, and the hosts would start from scratch).
if "$TESTBED" status -dir "$LAB" 2>/dev/null | awk '/^  lab[0-9]/ { n++; if ($3 != "up" || NF > 3) bad = 1 } END { exit !(n >= 3 && !bad) }'; then
  "$TESTBED" status -dir "$LAB"
  echo "(reusing the running lab)"
else
  run "$TESTBED" up -n 3 -dir "$LAB"
fi

step "Sources: libcap and perf, from Debian's source packages (cached)"
eval "$(scripts/fetch-sources.sh)"
echo "libcap: $LIBCAP_TARBALL"
echo "perf:   $PERF_TARBALL (perf-only source tarball of kernel $PERF_VERSION)"

# Inventories: the lab's connection settings, with the hosts each example is meant for.
inv="$LAB/inventory.hcl"
pick() { # pick HOST...: the lab inventory's connection block and these hosts' blocks
  awk -v want=" $* " '
    /^connection \{/ { keep = 1 }
    /^host "/ { name = $2; gsub(/"/, "", name); keep = index(want, " " name " ") > 0 }
    keep { print }
    /^\}/ { if (keep) print ""; keep = 0 }' "$inv"
}
cap_inv="$LAB/cap-perfmon.inventory.hcl"
fleet_inv="$LAB/fleet.inventory.hcl"
{
  echo "# make demo: examples/cap-perfmon on lab1 (written by scripts/demo.sh)."
  pick lab1
} >"$cap_inv"
{
  echo "# make demo: examples/fleet on lab2 and lab3 (written by scripts/demo.sh)."
  pick lab2 lab3
  cat <<'EOF'
group "web" {
  hosts = ["lab2"]
  vars  = { role = "web" }
}

group "db" {
  hosts = ["lab3"]
  vars  = { role = "db" }
}

group "profiling" {
  hosts = ["lab2", "lab3"]
}
EOF
} >"$fleet_inv"

cap=(-inventory "$cap_inv" -var "libcap_tarball=$LIBCAP_TARBALL" -var "kernel_tarball=$PERF_TARBALL")
fleet=(-inventory "$fleet_inv")

step "Plan: what would change (exit 2: changes, 0: nothing to do)"
set +e
run "$PERFPROV" plan -detailed-exitcode "${cap[@]}" examples/cap-perfmon
cap_plan=$?
run "$PERFPROV" plan -detailed-exitcode "${fleet[@]}" examples/fleet
fleet_plan=$?
set -e
if [ $cap_plan -gt 2 ] || [ $fleet_plan -gt 2 ]; then echo "plan failed" >&2; exit 1; fi

step "Apply (a first run builds libcap in seconds and perf in a few minutes)"
t0=$(date +%s)
run "$PERFPROV" apply -auto-approve "${cap[@]}" examples/cap-perfmon
t1=$(date +%s)
run "$PERFPROV" apply -auto-approve "${fleet[@]}" examples/fleet
t2=$(date +%s)
echo "apply took $((t1 - t0)) s (cap-perfmon, lab1) and $((t2 - t1)) s (fleet, lab2 and lab3)"

step "Plan again: nothing to change, nothing to rebuild"
run "$PERFPROV" plan -detailed-exitcode "${cap[@]}" examples/cap-perfmon
run "$PERFPROV" plan -detailed-exitcode "${fleet[@]}" examples/fleet

step "Verification, from inside the hosts (testbed exec: not through perfprov)"
for h in lab1 lab2 lab3; do
  echo "--- $h"
  "$TESTBED" exec -dir "$LAB" "$h" '
    perf=/opt/perf/bin/perf
    [ -x /opt/libcap/sbin/capsh ] && echo "capsh --version:  $(/opt/libcap/sbin/capsh --version)"
    echo "perf --version:   $($perf --version)"
    echo "stat:             $(stat -c "%A %U:%G %n" $perf)"
    echo "getcap:           $(getcap $perf)"
    echo "paranoid:         $(sysctl -n kernel.perf_event_paranoid) at runtime; $(grep -h perf_event_paranoid /etc/sysctl.d/99-zz-perf-security.conf)"
    echo "group:            $(getent group perf_users)"
    cd /
    echo "alice, perf stat -a, perf reads its own /proc/PID/status:"
    runuser -u alice -- $perf stat -a -e task-clock -- /bin/sh -c "grep -E \"^Cap(Prm|Eff)\" /proc/\$PPID/status" 2>&1 | grep -E "Cap|task-clock|system wide" | sed "s/^/    /"
    echo "nobody (not a member): $(runuser -u nobody -- $perf --version 2>&1 | tail -n 1)"
  '
done

cat <<EOF

The lab stays up: run 'make demo' again to see that nothing changes and nothing is rebuilt;
ssh -i $LAB/id_ed25519 -o UserKnownHostsFile=$LAB/known_hosts alice@<address> to look around;
'$TESTBED down -dir $LAB' removes it.
EOF
