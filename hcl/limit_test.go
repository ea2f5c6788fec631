package hcl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// TestSelectLimitFile: -limit @FILE stands for the names in FILE (one a line, blank lines and #
// comments ignored), combines with names and with -shard, and every problem with the file is an
// error that names it (and the line), never "no limit".
func TestSelectLimitFile(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	retry := file("failed", "# hosts that failed\n\ndb1\n")
	both := file("both", "  db1  \n# web1 is commented out\nweb # the group, with a trailing comment\n")
	empty := file("empty", "# nothing failed\n\n")
	typo := file("typo", "db1\n\nwbe1\n")
	nested := file("nested", "@"+retry+"\n")
	for _, tc := range []struct {
		name    string
		limit   []string
		shard   spec.Shard
		want    []string
		wantErr []string // substrings of the error; none: no error
	}{
		{name: "a retry file", limit: []string{"@" + retry}, want: []string{"db1"}},
		{name: "names and groups, comments", limit: []string{"@" + both}, want: []string{"web1", "db1"}},
		{name: "with a name", limit: []string{"web1", "@" + retry}, want: []string{"web1", "db1"}},
		{name: "with a shard", limit: []string{"@" + both}, shard: spec.Shard{K: 1, N: 2}, want: []string{"db1"}},
		{name: "missing file", limit: []string{"@" + filepath.Join(dir, "nope")},
			wantErr: []string{"-limit @" + filepath.Join(dir, "nope") + ":", "no such file"}},
		{name: "only comments", limit: []string{"@" + empty},
			wantErr: []string{"-limit @" + empty + ": the file names no host or group"}},
		{name: "unknown name in the file", limit: []string{"@" + typo},
			wantErr: []string{`no host or group named "wbe1" (` + typo + `:3)`, `Did you mean "web1"?`, "Known names: web1, db1, web, eu."}},
		{name: "unknown on both", limit: []string{"dbb1", "@" + typo},
			wantErr: []string{`no host or group named "dbb1", "wbe1" (` + typo + `:3).`}},
		{name: "no file name", limit: []string{"@"}, wantErr: []string{"name a file after the @"}},
		{name: "a file in a file", limit: []string{"@" + nested}, wantErr: []string{nested + ":1:", "cannot include another"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := sp.Select(tc.limit, tc.shard)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Select(%q) = %d hosts, want an error", tc.limit, len(hs))
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			var got []string
			for _, h := range hs {
				got = append(got, h.Name)
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Select(%q, %v) = %q, %v; want %q", tc.limit, tc.shard, got, err, tc.want)
			}
		})
	}
}
