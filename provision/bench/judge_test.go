package bench

import (
	"os"
	"strings"
	"testing"
)

// loadObs parses a recorded (or hand-written) script output pair from testdata/script.
func loadObs(t *testing.T, name string) Observations {
	t.Helper()
	member, err := os.ReadFile("testdata/script/" + name + ".member.txt")
	if err != nil {
		t.Fatal(err)
	}
	o := parseMemberOutput(string(member), "", 0)
	non, err := os.ReadFile("testdata/script/" + name + ".nonmember.txt")
	if err != nil {
		t.Fatal(err)
	}
	o.NonMember = parseNonMemberOutput(string(non), "", 0)
	return o
}

func defaultExpect() Expectations {
	return Expectations{Events: DefaultEvents, Tolerance: DefaultTolerance, Iterations: DefaultIterations, NonMember: "nobody"}
}

// TestJudgeRecorded judges the recorded script outputs of this machine's setups.
func TestJudgeRecorded(t *testing.T) {
	tests := []struct {
		name    string
		verdict Verdict
		reason  string
		capEff  string
		sw      bool
		non     string
	}{
		{"good", PassSoftwareOnly, "no hardware PMU exposed", "0000004400080000", true, "refused"},
		{"no-caps", Fail, "/usr/bin/perf has no file capabilities", "0000000000000000", false, "allowed"},
		{"not-member", Fail, "user daemon is not a member of group nogroup (perf is 750 root:nogroup)", "", false, "unchecked"},
		{"nosuid", Fail, "is on a nosuid mount (/opt/perf/bin)", "0000000000000000", false, "refused"},
		{"missing", Fail, "perf binary /opt/nonexistent/perf not found", "", false, "refused"},
		{"hw-pass", Pass, "hardware counters verified", "0000004400080000", true, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := loadObs(t, tt.name)
			x := defaultExpect()
			x.NonMember = "daemon"
			r := Judge(&o, x)
			if r.Verdict != tt.verdict || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("verdict %s: %s\nwant %s: ...%s...", r.Verdict, r.Reason, tt.verdict, tt.reason)
			}
			if r.CapEff != tt.capEff || r.SystemWideOK != tt.sw || r.NonMember != tt.non {
				t.Errorf("cap_eff %q system-wide %v non-member %q; want %q %v %q", r.CapEff, r.SystemWideOK, r.NonMember, tt.capEff, tt.sw, tt.non)
			}
			golden(t, "testdata/script/"+tt.name+".golden.json", r)
		})
	}
}

// mutate returns the hw-pass observations changed by f.
func hwObs(t *testing.T, f func(o *Observations)) Observations {
	o := loadObs(t, "hw-pass")
	if f != nil {
		f(&o)
	}
	return o
}

func setAcc(o *Observations, n uint64, ins, cyc float64) {
	r := o.Accuracy[n]
	evs := append([]Event(nil), r.Output.Events...)
	for i := range evs {
		switch hwBase(evs[i].Name) {
		case "instructions":
			if ins >= 0 {
				evs[i].Value = ins
			}
		case "cycles":
			if cyc >= 0 {
				evs[i].Value = cyc
			}
		}
	}
	r.Output.Events = evs
	o.Accuracy[n] = r
}

func setEvent(run *StatRun, name string, f func(e *Event)) {
	evs := append([]Event(nil), run.Output.Events...)
	for i := range evs {
		if evs[i].Name == name {
			f(&evs[i])
		}
	}
	run.Output.Events = evs
}

func allNotSupported(run *StatRun) {
	evs := append([]Event(nil), run.Output.Events...)
	for i := range evs {
		if !IsSoftwareEvent(evs[i].Name) {
			evs[i].Status, evs[i].Value = NotSupported, 0
		}
	}
	run.Output.Events = evs
}

// TestJudgeVectors: one observation changed at a time, the verdict and reason that must follow.
func TestJudgeVectors(t *testing.T) {
	n := uint64(DefaultIterations)
	noPMU := func(o *Observations) {
		o.PMUs = nil
		allNotSupported(&o.Events)
		allNotSupported(&o.SystemWide)
		allNotSupported(&o.Preflight)
		o.Compile = Compile{Done: true, ExitStatus: 125, Skipped: "instructions:u does not count"}
		o.Accuracy = map[uint64]StatRun{}
	}
	tests := []struct {
		name    string
		change  func(o *Observations)
		expect  func(x *Expectations)
		verdict Verdict
		reason  string
		check   string // a check that must have this status: "name=status"
	}{
		{"hardware verified", nil, nil, Pass, "hardware counters verified: instructions within 0.000166% of expected, cycles x2.00", "accuracy=ok"},
		{"nmi watchdog reported", nil, nil, Pass, "", "nmi-watchdog=warn"},
		{"script did not start", func(o *Observations) {
			*o = parseMemberOutput("", "sudo: unknown user perfy", 1)
		}, nil, Fail, "could not run the benchmark as the member: sudo: unknown user perfy", "run=fail"},
		{"ran as root", func(o *Observations) { o.RefusedRoot = true }, nil, Fail, "ran as root", ""},
		{"perf is a script", func(o *Observations) { o.PerfIsScript = true }, nil, Fail, "is a script (#!)", "perf-binary=fail"},
		{"perf directory not reachable", func(o *Observations) {
			o.PerfFound, o.PerfStatError = false, "stat: cannot statx '/opt/perf/bin/perf': Permission denied"
		}, nil, Fail, "cannot reach /opt/perf/bin/perf: permission denied", ""},
		{"member dropped from the group", func(o *Observations) {
			o.Groups = []string{"alice"}
			o.Start = ProcessProbe{ExitStatus: 126, Stderr: "sh: 1: /opt/perf/bin/perf: Permission denied"}
		}, nil, Fail, "user alice is not a member of group perf_users (perf is 750 root:perf_users)", "exec=fail"},
		{"noexec mount", func(o *Observations) {
			o.MountOptions = []string{"rw", "noexec"}
			o.MountPoint = "/opt"
			o.Start = ProcessProbe{ExitStatus: 126, Stderr: "Permission denied"}
		}, nil, Fail, "noexec mount (/opt)", ""},
		{"caps removed", func(o *Observations) {
			o.Start.CapEff, o.Start.CapPrm = 0, 0
			o.FileCaps, o.FileCapsText = 0, ""
		}, nil, Fail, "/opt/perf/bin/perf has no file capabilities (expected 0000004400080000", "capabilities=fail"},
		{"bare perf from PATH without caps", func(o *Observations) {
			o.Start.CapEff = 0
			o.FileCaps, o.FileCapsText = 0, ""
			o.Perf, o.PerfReal = "/usr/bin/perf", "/usr/bin/perf"
		}, func(x *Expectations) { x.Perf = "perf" }, Fail, `/usr/bin/perf (found as "perf" on the member's PATH) has no file capabilities`, ""},
		{"caps removed, no getcap", func(o *Observations) {
			o.Start.CapEff = 0
			o.FileCapsKnown, o.FileCaps, o.FileCapsText = false, 0, ""
		}, nil, Fail, "perf runs without capabilities: CapEff 0000000000000000, expected 0000004400080000", ""},
		{"nosuid", func(o *Observations) {
			o.Start.CapEff = 0
			o.MountOptions, o.MountPoint = []string{"rw", "nosuid"}, "/opt"
		}, nil, Fail, "nosuid mount (/opt)", ""},
		{"no_new_privs", func(o *Observations) { o.Start.CapEff, o.Start.NoNewPrivs = 0, true }, nil, Fail, "no_new_privs is set for alice", ""},
		{"bounding set without perfmon", func(o *Observations) {
			o.Start.CapEff = MustCaps("cap_sys_ptrace", "cap_syslog")
			o.Start.CapBnd = ^MustCaps("cap_perfmon") & 0x1ffffffffff
		}, nil, Fail, "bounding set lacks cap_perfmon", ""},
		{"one cap missing from the file", func(o *Observations) {
			o.Start.CapEff = MustCaps("cap_perfmon", "cap_sys_ptrace")
			o.FileCaps = MustCaps("cap_perfmon", "cap_sys_ptrace")
			o.FileCapsText = "/opt/perf/bin/perf cap_sys_ptrace,cap_perfmon=ep"
		}, nil, Fail, "lacks cap_syslog in its file capabilities", ""},
		{"extra cap_sys_admin", func(o *Observations) { o.Start.CapEff |= MustCaps("cap_sys_admin") }, nil, Fail, "more capabilities than expected: CapEff 0000004400280000 has cap_sys_admin", ""},
		{"optional cap_ipc_lock", func(o *Observations) { o.Start.CapEff |= MustCaps("cap_ipc_lock") }, nil, Pass, "hardware counters verified", "capabilities=ok"},
		{"exact set asked, ipc_lock missing", nil, func(x *Expectations) {
			x.ExpectedCaps = PerfmonCaps | MustCaps("cap_ipc_lock")
		}, Fail, "lacks cap_ipc_lock in its file capabilities", ""},
		{"old kernel, sys_admin set", func(o *Observations) {
			o.CapLastCap = 37
			o.Start.CapEff = SysAdminCaps
		}, nil, Pass, "", "capabilities=ok"},
		{"old kernel given cap_perfmon", func(o *Observations) {
			o.CapLastCap = 37
			o.Start.CapEff = MustCaps("cap_sys_ptrace", "cap_syslog")
		}, nil, Fail, "the kernel has no CAP_PERFMON (cap_last_cap 37)", ""},
		{"paranoid above 2 on a Debian kernel", func(o *Observations) {
			o.Paranoid = 3
			o.SystemWide = StatRun{Done: true, ExitStatus: 255, Output: Parse([]byte("Error:\nAccess to performance monitoring and observability operations is limited.\n"))}
		}, nil, Fail, "kernel.perf_event_paranoid is 3 (> 2): Debian and Ubuntu kernels then ignore CAP_PERFMON and only CAP_SYS_ADMIN may profile; set it to 2 (the perf_users module does)", "paranoid=fail"},
		{"paranoid 3: every perf stat refused", func(o *Observations) {
			refused := StatRun{Done: true, ExitStatus: 255, Output: Parse([]byte("Error:\nAccess to performance monitoring and observability operations is limited.\n"))}
			o.Paranoid = 3
			o.SystemWide, o.Events, o.Preflight = refused, refused, refused
			o.PerEvent = nil
			for range DefaultEvents {
				o.PerEvent = append(o.PerEvent, refused)
			}
			o.Compile = Compile{Done: true, ExitStatus: 125, Skipped: "instructions:u does not count"}
			o.Accuracy = map[uint64]StatRun{}
		}, nil, Fail, "kernel.perf_event_paranoid is 3", "events=fail"},
		{"paranoid 3 on an upstream kernel: counting works", func(o *Observations) { o.Paranoid = 3 }, nil, Pass, "", "paranoid=warn"},
		{"paranoid 3, patch believed, counting works: the policy fails it", func(o *Observations) { o.Paranoid = 3 }, func(x *Expectations) {
			x.DistroParanoidPatch = ptr(true)
		}, Fail, "kernel.perf_event_paranoid is 3 (> 2): Debian and Ubuntu kernels then ignore CAP_PERFMON and only CAP_SYS_ADMIN may profile; set it to 2 (the perf_users module does)", "system-wide=ok"},
		{"paranoid 4, patch believed, refused", func(o *Observations) {
			o.Paranoid = 4
			o.SystemWide = StatRun{Done: true, ExitStatus: 255, Output: Parse([]byte("Error:\nAccess to performance monitoring and observability operations is limited.\n"))}
		}, func(x *Expectations) { x.DistroParanoidPatch = ptr(true) }, Fail, "kernel.perf_event_paranoid is 4 (> 2)", "system-wide=fail"},
		{"paranoid 3, no patch believed, counting works: a warning", func(o *Observations) { o.Paranoid = 3 }, func(x *Expectations) {
			x.DistroParanoidPatch = ptr(false)
		}, Pass, "", "paranoid=warn"},
		{"paranoid 3, no patch believed, refused anyway", func(o *Observations) {
			o.Paranoid = 3
			o.SystemWide = StatRun{Done: true, ExitStatus: 255, Output: Parse([]byte("Error:\nAccess to performance monitoring and observability operations is limited.\n"))}
		}, func(x *Expectations) { x.DistroParanoidPatch = ptr(false) }, Fail, "kernel.perf_event_paranoid is 3 (> 2)", "paranoid=fail"},
		{"paranoid 2, patch believed", nil, func(x *Expectations) { x.DistroParanoidPatch = ptr(true) }, Pass, "hardware counters verified", "paranoid=ok"},
		{"paranoid 3 and caps removed: the caps are the reason", func(o *Observations) {
			o.Paranoid = 3
			o.Start.CapEff = 0
			o.FileCaps, o.FileCapsKnown = 0, true
		}, func(x *Expectations) { x.DistroParanoidPatch = ptr(true) }, Fail, "has no file capabilities", "paranoid=fail"},
		{"hybrid downgrade", func(o *Observations) {
			setEvent(&o.Events, "cycles", func(e *Event) { e.Name, e.UserOnly = "cpu_core/cycles/u", true })
		}, nil, Fail, "perf downgraded cpu_core/cycles/u to user-only", ""},
		{"system-wide refused", func(o *Observations) {
			o.SystemWide = StatRun{Done: true, ExitStatus: 255, Output: Parse([]byte("Error:\nAccess to performance monitoring and observability operations is limited.\n"))}
		}, nil, Fail, "perf stat -a failed as alice (exit status 255): Error: Access to performance monitoring", ""},
		{"events downgraded to :u", func(o *Observations) {
			setEvent(&o.Events, "cycles", func(e *Event) { e.Name, e.UserOnly = "cycles:u", true })
		}, nil, Fail, "perf downgraded cycles:u to user-only counting", "events=fail"},
		{"system-wide downgraded", func(o *Observations) {
			setEvent(&o.SystemWide, "cycles", func(e *Event) { e.Name, e.UserOnly = "cycles:u", true })
		}, nil, Fail, "perf stat -a downgraded cycles to user-only", ""},
		{"world-executable perf", func(o *Observations) { o.PerfMode = "755" }, nil, Fail, "executable by every user (mode 755 root:perf_users)", "non-member=fail"},
		{"non-member can run perf", func(o *Observations) {
			o.NonMember = NonMemberProbe{Ran: true, User: "nobody", ExitStatus: 0}
		}, nil, Fail, "non-member nobody can run /opt/perf/bin/perf", ""},
		{"non-member probe impossible", func(o *Observations) {
			o.NonMember = NonMemberProbe{Error: "sudo: unknown user nobody"}
		}, nil, Pass, "", "non-member=warn"},
		{"unknown event", func(o *Observations) {
			o.Events = StatRun{Done: true, ExitStatus: 129, Output: Parse([]byte("event syntax error: 'bogus'\n                     \\___ parser error\n"))}
			var per []StatRun
			for _, e := range DefaultEvents {
				per = append(per, StatRun{Done: true, Output: Parse([]byte("1,," + e + ",1,100.00,,\n"))})
			}
			per = append(per, StatRun{Done: true, ExitStatus: 129, Output: Parse([]byte("event syntax error: 'bogus'\n"))})
			o.PerEvent = per
		}, func(x *Expectations) { x.Events = append(append([]string{}, DefaultEvents...), "bogus") },
			Fail, "perf rejected event bogus: event syntax error: 'bogus'", ""},
		{"software event not counted", func(o *Observations) {
			setEvent(&o.Events, "task-clock", func(e *Event) { e.Status, e.Value = NotCounted, 0 })
		}, nil, Fail, "software events do not count (task-clock not-counted)", ""},
		{"no PMU", noPMU, nil, PassSoftwareOnly, "no hardware PMU exposed (hardware events <not supported>)", "hardware=skip"},
		{"no PMU but required", noPMU, func(x *Expectations) { x.RequireHardwareCounters = true },
			Fail, "require_hardware_counters is set but no hardware PMU exposed", "hardware=fail"},
		{"PMU listed, events unsupported", func(o *Observations) { noPMU(o); o.PMUs = []string{"cpu"} }, nil,
			PassSoftwareOnly, "PMU cpu listed but hardware events <not supported>", ""},
		{"no compiler", func(o *Observations) {
			o.Compile = Compile{Done: true, ExitStatus: 127, Skipped: "no C compiler (cc) on the host"}
			o.Accuracy = map[uint64]StatRun{}
		}, nil, Pass, "accuracy not checked: no C compiler (cc) on the host", "accuracy=skip"},
		{"workload for another arch", func(o *Observations) {
			o.Arch = "riscv64"
			o.Compile = Compile{Done: true, ExitStatus: 1, Log: "loop.c:40:2: error: #error \"perfprov bench: no workload for this architecture\""}
			o.Accuracy = map[uint64]StatRun{}
		}, nil, Pass, "no workload for architecture riscv64", ""},
		{"instructions off by 2%", func(o *Observations) { setAcc(o, 2*n, 200151566+2_000_000, -1) }, nil,
			Fail, "instructions counted 102000166 for 10000000 loop iterations, expected 100000000: off by 2.00% (tolerance 1.00%)", "accuracy=fail"},
		{"instructions off by 0.5% within tolerance", func(o *Observations) { setAcc(o, 2*n, 200151566+500_000, -1) }, nil, Pass, "within 0.5%", ""},
		{"tolerance 0.1% catches 0.5%", func(o *Observations) { setAcc(o, 2*n, 200151566+500_000, -1) },
			func(x *Expectations) { x.Tolerance = 0.001 }, Fail, "off by 0.50% (tolerance 0.10%)", ""},
		{"cycles do not scale", func(o *Observations) { setAcc(o, 2*n, -1, 90_000_000) }, nil, Fail, "cycles do not scale with work: twice the loop took 2.69x", ""},
		{"implausible IPC", func(o *Observations) {
			setAcc(o, 0, -1, 21_000)
			setAcc(o, n, -1, 3_361_000)
			setAcc(o, 2*n, -1, 6_700_500)
		}, nil, Fail, "implausible IPC 29.94", ""},
		{"accuracy run failed", func(o *Observations) {
			o.Accuracy[n] = StatRun{Done: true, ExitStatus: 255, Output: Parse([]byte("Error:\nsomething broke\n"))}
		}, nil, Fail, "perf stat of the workload (10000000 iterations) failed: Error: something broke", ""},
		{"hybrid: instructions split between core and atom", func(o *Observations) {
			r := o.Accuracy[2*n]
			var evs []Event
			for _, e := range r.Output.Events {
				if e.Name == "instructions:u" {
					a, b := e, e
					a.Name, a.Value = "cpu_core/instructions/u", e.Value-1_000_000
					b.Name, b.Value = "cpu_atom/instructions/u", 1_000_000
					evs = append(evs, a, b)
					continue
				}
				evs = append(evs, e)
			}
			r.Output.Events = evs
			o.Accuracy[2*n] = r
		}, nil, Pass, "hardware counters verified", ""},
		{"multiplexed events noted", func(o *Observations) {
			setEvent(&o.Events, "branches", func(e *Event) { e.PercentRunning = 66.5 })
		}, nil, Pass, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := hwObs(t, tt.change)
			x := defaultExpect()
			if tt.expect != nil {
				tt.expect(&x)
			}
			r := Judge(&o, x)
			if r.Verdict != tt.verdict || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("got %s: %s\nwant %s: ...%s...", r.Verdict, r.Reason, tt.verdict, tt.reason)
			}
			if tt.check != "" {
				name, status, _ := strings.Cut(tt.check, "=")
				found := false
				for _, c := range r.Checks {
					if c.Name == name {
						found = true
						if c.Status != status {
							t.Errorf("check %s = %s (%s), want %s", name, c.Status, c.Detail, status)
						}
					}
				}
				if !found {
					t.Errorf("no check %s in %+v", name, r.Checks)
				}
			}
			if r.Verdict == Fail && r.Reason == "" {
				t.Error("fail without a reason")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestJudgeParanoidNotes: where the policy fails a host that counted, the report says so.
func TestJudgeParanoidNotes(t *testing.T) {
	o := hwObs(t, func(o *Observations) { o.Paranoid = 3 })
	x := defaultExpect()
	x.DistroParanoidPatch, x.ParanoidPatchReason = ptr(true), "os_id/os_id_like is debian and the kernel config is not readable"
	r := Judge(&o, x)
	notes := strings.Join(r.Notes, "\n")
	for _, want := range []string{"this kernel counted anyway at kernel.perf_event_paranoid 3", "probably carries the Debian/Ubuntu paranoid patch (facts: os_id/os_id_like is debian"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
	if r.DistroParanoidPatch == nil || !*r.DistroParanoidPatch || r.Paranoid == nil || *r.Paranoid != 3 {
		t.Errorf("report: patch %v paranoid %v", r.DistroParanoidPatch, r.Paranoid)
	}
	x.DistroParanoidPatch = ptr(false)
	r = Judge(&o, x)
	if r.Verdict != Pass || !strings.Contains(strings.Join(r.Notes, "\n"), "kernel.perf_event_paranoid is 3 (> 2): kernels with the Debian/Ubuntu patch would let only CAP_SYS_ADMIN profile") {
		t.Errorf("no patch: %s: %s, notes %q", r.Verdict, r.Reason, r.Notes)
	}
}

func TestJudgeNotes(t *testing.T) {
	o := hwObs(t, func(o *Observations) {
		setEvent(&o.Events, "branches", func(e *Event) { e.PercentRunning = 66.5 })
		o.Start.CapEff |= MustCaps("cap_ipc_lock")
	})
	r := Judge(&o, defaultExpect())
	notes := strings.Join(r.Notes, "\n")
	for _, want := range []string{"multiplexed (percent of time counted): branches 66.5%", "perf also carries cap_ipc_lock"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
}

// TestJudgeKernelSymbols: kernel.kptr_restrict that hides kernel symbols from the member's perf
// is a warning (never a failure) naming the value that lets CAP_SYSLOG holders see them, as the
// kernel decides (kallsyms_show_value): 0 shows them to all at paranoid <= 1, else to CAP_SYSLOG
// holders; 1 to CAP_SYSLOG holders; 2 to no one.
func TestJudgeKernelSymbols(t *testing.T) {
	noSyslog := func(o *Observations) { o.Start.CapEff &^= 1 << capSyslog }
	tests := []struct {
		name     string
		kptr     int
		paranoid int
		change   func(o *Observations)
		want     string // the warning; "" for none
	}{
		{"unknown", -1, 2, nil, ""},
		{"0 with cap_syslog", 0, 2, nil, ""},
		{"1 with cap_syslog", 1, 2, nil, ""},
		{"2 with cap_syslog", 2, 2, nil, "kernel.kptr_restrict = 2 hides kernel symbols from everyone, the members' perf included: kernel.kptr_restrict = 1 shows them to CAP_SYSLOG holders (the members' perf has cap_syslog)"},
		{"2 without cap_syslog", 2, 2, noSyslog, "kernel.kptr_restrict = 2 hides kernel symbols from everyone, the members' perf included: kernel.kptr_restrict = 1 shows them to CAP_SYSLOG holders, and the members' perf needs cap_syslog"},
		{"1 without cap_syslog", 1, 2, noSyslog, "kernel.kptr_restrict = 1 shows kernel symbols only to CAP_SYSLOG holders, and the members' perf runs without cap_syslog: add cap_syslog to its capabilities"},
		{"0 without cap_syslog, paranoid 2", 0, 2, noSyslog, "kernel.kptr_restrict = 0 shows kernel symbols only to CAP_SYSLOG holders while kernel.perf_event_paranoid > 1, and the members' perf runs without cap_syslog: add cap_syslog to its capabilities"},
		{"0 without cap_syslog, paranoid 1", 0, 1, noSyslog, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := hwObs(t, func(o *Observations) {
				o.KptrRestrict, o.Paranoid = tt.kptr, tt.paranoid
				if tt.change != nil {
					tt.change(o)
				}
			})
			x := defaultExpect()
			x.ExpectedCaps = o.Start.CapEff // the caps themselves are not what this judges
			r := Judge(&o, x)
			if r.Verdict != Pass {
				t.Errorf("verdict %s: %s", r.Verdict, r.Reason)
			}
			var got string
			for _, c := range r.Checks {
				if c.Name == "kernel-symbols" {
					if c.Status != CheckWarn {
						t.Errorf("kernel-symbols is %s", c.Status)
					}
					got = c.Detail
				}
			}
			if got != tt.want {
				t.Errorf("warning %q\nwant    %q", got, tt.want)
			}
			if tt.want != "" && !strings.Contains(strings.Join(r.Notes, "\n"), tt.want) {
				t.Errorf("the warning is not among the notes the table prints: %q", r.Notes)
			}
			if tt.kptr >= 0 && (r.KptrRestrict == nil || *r.KptrRestrict != tt.kptr) {
				t.Errorf("report kptr_restrict %v", r.KptrRestrict)
			}
		})
	}
	// The member script reads it (world-readable) with the other sysctls.
	if !strings.Contains(memberScriptBody, `echo "kptr_restrict=$(cat /proc/sys/kernel/kptr_restrict 2>/dev/null)"`) {
		t.Error("the member script does not read kernel.kptr_restrict")
	}
	o := parseMemberOutput("@@perfprov-bench begin v1\n@@perfprov-bench section facts\nkptr_restrict=2\n", "", 0)
	if o.KptrRestrict != 2 {
		t.Errorf("parsed kptr_restrict %d", o.KptrRestrict)
	}
}
