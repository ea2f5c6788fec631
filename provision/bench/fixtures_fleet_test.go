package bench

import (
	"fmt"
	"testing"
	"time"
)

// bigFleet is n hosts judged from the recorded script fixtures, in the proportions a large fleet
// might show: half pass with hardware counters at varied accuracy and IPC (a few counting beyond
// the tolerance), a quarter are VMs without a PMU, and the rest fail for each recorded reason or
// cannot be reached. Host names vary in length, as real ones do. The same n gives the same fleet.
func bigFleet(t *testing.T, n int) []*HostReport {
	t.Helper()
	fixtures := map[string]Observations{}
	for _, f := range []string{"hw-pass", "good", "no-caps", "not-member", "nosuid"} {
		fixtures[f] = loadObs(t, f)
	}
	x := defaultExpect()
	x.NonMember = "daemon"
	seed := uint64(15)
	random := func() float64 { // a fixed linear congruential sequence: the fleet is the same each run
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / float64(1<<53)
	}
	var reps []*HostReport
	for i := range n {
		host := fleetHostName(i)
		var r *HostReport
		switch k := i % 20; {
		case k < 10:
			o := fixtures["hw-pass"]
			o.Accuracy = cloneAccuracy(o.Accuracy)
			errPct := 0.6 * random() * random() // most hosts count within a few hundredths of a percent
			switch {
			case i%50 == 7:
				errPct = 1.2 + random()
			case i%97 == 3:
				errPct = 4 + 3*random()
			}
			scale := 0.7 + 1.8*random() // cycles scaled alike in the three runs: IPC varies, the ratio holds
			// instructions(2N) - instructions(N) is what the loop retired: 10 per iteration, off by errPct.
			expected := float64(10 * DefaultIterations)
			setAcc(&o, 0, -1, 210000*scale)
			setAcc(&o, DefaultIterations, -1, 33610000*scale)
			setAcc(&o, 2*DefaultIterations, 100151400+expected*(1+errPct/100), 67005000*scale)
			r = Judge(&o, x)
		case k < 15:
			o := fixtures["good"]
			r = Judge(&o, x)
		case k < 17:
			o := fixtures["no-caps"]
			r = Judge(&o, x)
		case k == 17:
			o := fixtures["not-member"]
			r = Judge(&o, x)
		case k == 18:
			o := fixtures["nosuid"]
			r = Judge(&o, x)
		default:
			r = FailedReport(host, "counters", fmt.Errorf("connect to 10.20.%d.%d:22: dial tcp 10.20.%d.%d:22: connect: connection timed out", i/250, i%250, i/250, i%250), fixedTime)
		}
		r.Host, r.Benchmark, r.Time = host, "counters", fixedTime
		reps = append(reps, r)
	}
	return reps
}

func fleetHostName(i int) string {
	switch i % 7 {
	case 0:
		return fmt.Sprintf("web-%03d", i)
	case 3:
		return fmt.Sprintf("analytics-worker-%04d.eu-west-3.compute.internal", i)
	case 5:
		return fmt.Sprintf("db%d.dc2.example.net", i)
	default:
		return fmt.Sprintf("node-%03d.dc1", i)
	}
}

func cloneAccuracy(m map[uint64]StatRun) map[uint64]StatRun {
	out := make(map[uint64]StatRun, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fleetHistory is runs earlier than fixedTime, every so often, oldest first, of the fleet as it
// grew to its current size: more hosts each run, and fewer failures, until the last one lost a few.
func fleetHistory(reps []*HostReport, runs int, every time.Duration) []*Record {
	var out []*Record
	for k := range runs {
		hosts := max(1, len(reps)*(60+40*k/runs)/100)
		fails := max(0, (runs-k)*len(reps)/(4*runs))
		if k == runs-1 {
			fails = len(reps) / 20
		}
		rec := &Record{Time: fixedTime.Add(-time.Duration(runs-k) * every)}
		for i, r := range reps[:hosts] {
			c := *r
			if i < fails && c.Verdict != Fail {
				c.Verdict, c.Reason = Fail, "connect: connection refused"
			}
			rec.Reports = append(rec.Reports, &c)
		}
		out = append(out, rec)
	}
	return out
}
