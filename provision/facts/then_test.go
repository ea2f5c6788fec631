package facts

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/provision/prelude"
)

// TestGatherThenLeavesThePrelude: with GatherThen, the facts script runs in the shell of what
// follows it; it leaves that the prelude's stat and file lines (and its token), and puts back the
// environment and the directory it changed. With every POSIX shell this machine has.
func TestGatherThenLeavesThePrelude(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/conf", []byte("a = 1\nkey.x = 2\n# key.x = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := prelude.Plan{
		Stat:   []string{"/etc/passwd", dir + "/none"},
		Files:  []prelude.File{{Path: "/etc/passwd", Needle: "root:"}, {Path: dir, Suffix: "f", Needle: "key.x"}},
		Mounts: []string{"/etc"},
	}
	then := `printf 'pre=%s\n' "${_pp_pre-}"
printf 'path=%s lc=%s pager=%s dir=%s\n' "$PATH" "${LC_ALL-unset}" "${PAGER-unset}" "$PWD"
printf '%s\n' "$_pp_stat" | sed 's/^/stat:/'
printf '%s\n' "$_pp_fx" | sed 's/^/fx:/'
`
	shells := [][]string{{"sh", "-c"}, {"dash", "-c"}, {"bash", "--posix", "-c"}, {"busybox", "sh", "-c"}, {"posh", "-c"}}
	for _, sh := range shells {
		path, err := exec.LookPath(sh[0])
		if err != nil {
			continue
		}
		t.Run(sh[0], func(t *testing.T) {
			conn := &localConn{name: sh[0], shell: append([]string{path}, sh[1:]...),
				env: []string{"PATH=/usr/bin:/bin", "PAGER=less", "LOGNAME=" + os.Getenv("LOGNAME")}}
			f, res, err := GatherThen(context.Background(), conn, Options{Prelude: plan}, then, 0)
			if err != nil {
				t.Fatal(err)
			}
			if f.KernelRelease == "" {
				t.Errorf("no facts")
			}
			if len(res.Stderr) > 0 {
				t.Errorf("stderr: %s", res.Stderr)
			}
			_, out, _ := strings.Cut(string(res.Stdout), endMarker+"\n")
			wd, _ := os.Getwd()
			for _, want := range []string{
				"pre=" + plan.Token() + "\n",
				"path=/usr/bin:/bin lc=unset pager=less dir=" + wd + "\n",
				"stat:/etc/passwd\nstat:regular file|root|root|0|0|644|",
				"fx:x=/etc/passwd\troot:x:0:0:",
				"fx:x=" + dir + "/conf\tkey.x = 2\nfx:x=" + dir + "/conf\t# key.x = 3\n",
				"fx:xm=/etc\t/",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in what follows the facts:\n%s", want, out)
				}
			}
			for _, not := range []string{"stat:" + dir + "/none", "fx:file=", "fx:x.end", "a = 1"} {
				if strings.Contains(out, not) {
					t.Errorf("%q in what follows the facts:\n%s", not, out)
				}
			}
		})
	}
}
