package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/perfprov/perfprov/spec"
)

// TestShardsCoverFleetOnce: four controllers run apply -shard K/4 at once on the lab; together
// they take every host exactly once (each in the shard its name hashes to; a shard with none of
// them exits 0), and perfprov report of their four -json outputs prints the recap one run over
// every host printed.
func TestShardsCoverFleetOnce(t *testing.T) {
	lab := lab3(t)
	var names []string
	for _, h := range lab.Hosts[:3] {
		names = append(names, h.Name)
	}
	inv := inventory(t, lab, "", names...)
	sp := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "shard")
	clean := func() {
		for _, n := range names {
			hostTry(t, lab, n, "rm -f /etc/perfprov-shard-test /etc/perfprov-shard-test.ran")
		}
	}
	clean()
	t.Cleanup(clean)

	// One run over every host: the table the shards must add up to.
	one := perfprov(t, t.TempDir(), "apply", "-auto-approve", "-inventory", inv, sp)
	mustCode(t, one, 0, "one run over every host")
	i := strings.Index(one.stdout, "Recap:")
	if i < 0 {
		t.Fatalf("no recap:\n%s", one.out)
	}
	want := one.stdout[i:]
	clean()

	// Four shards at once, each a controller of its own (working directory, connection daemon).
	const n = 4
	works := make([]string, n)
	for k := range works {
		works[k] = t.TempDir()
	}
	res := make([]result, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[k] = perfprov(t, works[k], "apply", "-auto-approve", "-json", "-shard", fmt.Sprintf("%d/%d", k, n), "-inventory", inv, sp)
		}()
	}
	wg.Wait()

	seen := map[string]int{}
	var files []string
	for k, r := range res {
		mustCode(t, r, 0, fmt.Sprintf("shard %d/%d", k, n))
		hosts := summarisedHosts(t, r.stdout)
		for _, h := range hosts {
			seen[h]++
			if got := spec.ShardOf(h, n); got != k {
				t.Errorf("shard %d/%d ran %s, whose name hashes to shard %d", k, n, h, got)
			}
		}
		if len(hosts) == 0 && !strings.Contains(r.out, fmt.Sprintf("shard %d/%d holds none of the spec's 3 hosts", k, n)) {
			t.Errorf("shard %d/%d ran no host and did not say so:\n%s", k, n, r.out)
		}
		f := filepath.Join(t.TempDir(), fmt.Sprintf("shard-%d.json", k))
		if err := os.WriteFile(f, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, h := range names {
		if seen[h] != 1 {
			t.Errorf("%s was run by %d shards, want exactly 1 (%v)", h, seen[h], seen)
		}
	}
	for _, h := range names {
		if got := hostExec(t, lab, h, "cat /etc/perfprov-shard-test"); got != h {
			t.Errorf("%s: /etc/perfprov-shard-test is %q after the shards", h, got)
		}
	}

	rep := perfprov(t, t.TempDir(), append([]string{"report", "-spec", sp, "-inventory", inv}, files...)...)
	mustCode(t, rep, 0, "report")
	if rep.stdout != want {
		t.Errorf("report of the 4 shards:\n%s\nwant the one run's recap:\n%s", rep.stdout, want)
	}
	merged := perfprov(t, t.TempDir(), append([]string{"report", "-json"}, files...)...)
	mustCode(t, merged, 0, "report -json")
	if got := summarisedHosts(t, merged.stdout); len(got) != len(names) {
		t.Errorf("the merged stream summarises %v, want the 3 hosts", got)
	}
}

// summarisedHosts are the hosts of an apply -json stream's host_summary events, in order.
func summarisedHosts(t *testing.T, stream string) []string {
	t.Helper()
	var hosts []string
	for i, line := range strings.Split(strings.TrimSpace(stream), "\n") {
		var e applyEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if (i == 0) != (e.Type == "version") {
			t.Fatalf("line %d: the header line is first, and only there: %q", i+1, line)
		}
		if e.Type == "host_summary" {
			hosts = append(hosts, e.Host)
		}
	}
	return hosts
}
