package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// completionSpec is the spec of the completion tests' working directory: three hosts, one group.
const completionSpec = `host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

host "db1" {
  address = "192.0.2.3"
}

group "web" {
  hosts = ["web1", "web2"]
}
`

// completionSetup writes the script for shell, a working directory holding the spec (and
// main.hcl, inventory.hcl to complete as files), and a directory whose perfprov is this test
// binary (TestMain answers __complete), for PATH.
func completionSetup(t *testing.T, shell string) (script, work, bin string) {
	t.Helper()
	env, stdout, stderr := testEnv()
	env.commands = commands
	if err := runCompletion(context.Background(), env, []string{shell}); err != nil {
		t.Fatalf("completion %s: %v\n%s", shell, err, stderr)
	}
	script = filepath.Join(t.TempDir(), "perfprov."+shell)
	work, bin = t.TempDir(), t.TempDir()
	for name, content := range map[string]string{script: stdout.String(), filepath.Join(work, "main.hcl"): completionSpec,
		filepath.Join(work, "inventory.hcl"): "# empty\n"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(work, "hist"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(bin, "perfprov")); err != nil {
		t.Fatal(err)
	}
	return script, work, bin
}

// shellRun runs name with args in work, this test binary first on PATH as perfprov.
func shellRun(t *testing.T, work, bin, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// needShell fails under CI, where scripts/test-deps.sh installs the shells, and skips elsewhere.
func needShell(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/test-deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed (scripts/test-deps.sh installs it)", name)
	}
}

// completionCases are command lines (the last word is being completed) and what every shell
// offers for them, sorted.
var completionCases = []struct {
	line []string
	want []string
}{
	{[]string{"perfprov", "ap"}, []string{"apply"}},
	{[]string{"perfprov", "c"}, []string{"completion"}},
	{[]string{"perfprov", "apply", "-li"}, []string{"-limit"}},
	{[]string{"perfprov", "apply", "-au"}, []string{"-audit-log", "-auto-approve"}},
	{[]string{"perfprov", "bench", "-no"}, []string{"-no-color", "-no-save", "-non-member"}},
	{[]string{"perfprov", "apply", "-limit", ""}, []string{"db1", "web", "web1", "web2"}},
	{[]string{"perfprov", "plan", "-limit", "we"}, []string{"web", "web1", "web2"}},
	{[]string{"perfprov", "facts", "-limit", "web1,d"}, []string{"web1,db1"}},
	{[]string{"perfprov", "apply", "-limit", "@ma"}, []string{"@main.hcl"}},
	{[]string{"perfprov", "apply", "-inventory", "inv"}, []string{"inventory.hcl"}},
	{[]string{"perfprov", "apply", "-json", "ma"}, []string{"main.hcl"}},
	{[]string{"perfprov", "completion", ""}, []string{"bash", "fish", "zsh"}},
}

// TestCompletionBash: the script, sourced in a real bash, registers _perfprov for perfprov, and
// _perfprov sets COMPREPLY as bash would when Tab is pressed (COMP_WORDS, COMP_CWORD), host names
// coming from the spec in the working directory through `perfprov __complete hosts`.
func TestCompletionBash(t *testing.T) {
	needShell(t, "bash")
	script, work, bin := completionSetup(t, "bash")
	var prog strings.Builder
	prog.WriteString("source " + shQuote(script) + "\ncomplete -p perfprov\n")
	prog.WriteString(`t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _perfprov
  echo "${COMPREPLY[*]}"; }` + "\n")
	for _, c := range completionCases {
		var q []string
		for _, w := range c.line {
			q = append(q, shQuote(w))
		}
		prog.WriteString("t " + strings.Join(q, " ") + "\n")
	}
	// -limit=VALUE: bash splits the word at '=' (COMP_WORDBREAKS); what follows it is completed.
	prog.WriteString("t perfprov apply -limit = ''\nt perfprov apply -limit = db\n")
	lines := strings.Split(shellRun(t, work, bin, "bash", "-c", prog.String()), "\n")
	if lines[0] != "complete -F _perfprov perfprov" {
		t.Errorf("complete -p perfprov: %q", lines[0])
	}
	wants := make([][]string, 0, len(completionCases)+2)
	for _, c := range completionCases {
		wants = append(wants, c.want)
	}
	wants = append(wants, []string{"db1", "web", "web1", "web2"}, []string{"db1"})
	for i, want := range wants {
		got := sortedFields(lines[i+1])
		if !slices.Equal(got, want) {
			line := "(-limit=)"
			if i < len(completionCases) {
				line = strings.Join(completionCases[i].line, " ")
			}
			t.Errorf("%q: COMPREPLY %q, want %q", line, got, want)
		}
	}
}

// TestCompletionZsh: zsh -n accepts the script, and a real interactive zsh (under zpty, with
// compinit) that loaded it offers what the cases say after Tab (testdata/completion/capture.zsh).
func TestCompletionZsh(t *testing.T) {
	needShell(t, "zsh")
	script, work, bin := completionSetup(t, "zsh")
	shellRun(t, work, bin, "zsh", "-n", script)
	capture, err := filepath.Abs(filepath.Join("testdata", "completion", "capture.zsh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range completionCases {
		out := shellRun(t, work, bin, "zsh", "-f", capture, script, strings.Join(c.line, " "))
		got := sortedFields(strings.NewReplacer("<<", "", ">>", "").Replace(out))
		if want := zshWant(c.line, c.want); !slices.Equal(got, want) {
			t.Errorf("%q: zsh offers %q, want %q", strings.Join(c.line, " "), got, want)
		}
	}
}

// zshWant is what zsh's compadd receives for a case: it completes after the prefix compset took
// (the comma list's items, @FILE's name).
func zshWant(line, want []string) []string {
	var out []string
	for _, w := range want {
		if strings.Contains(line[len(line)-1], ",") {
			w = w[strings.LastIndex(w, ",")+1:]
		}
		out = append(out, strings.TrimPrefix(w, "@"))
	}
	return out
}

// sortedFields is the words of s, sorted (in Go: sort(1) would depend on the locale).
func sortedFields(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return slices.Compact(f)
}

// TestCompletionFish: fish -n accepts the script, and fish's own `complete -C LINE` (what Tab
// offers) gives what the cases say.
func TestCompletionFish(t *testing.T) {
	needShell(t, "fish")
	script, work, bin := completionSetup(t, "fish")
	shellRun(t, work, bin, "fish", "-n", script)
	var prog strings.Builder
	prog.WriteString("source " + fishQuote(script) + "\n")
	for _, c := range completionCases {
		prog.WriteString("echo (complete -C " + fishQuote(strings.Join(c.line, " ")) + " | string replace -r '\\t.*' '')\n")
	}
	lines := strings.Split(shellRun(t, work, bin, "fish", "-c", prog.String()), "\n")
	for i, c := range completionCases {
		if got := sortedFields(lines[i]); !slices.Equal(got, c.want) {
			t.Errorf("%q: fish offers %q, want %q", strings.Join(c.line, " "), got, c.want)
		}
	}
}

// TestCompletionFlagsAreTheRealOnes: the scripts' flags are those of each command's flag set, so
// that a flag added to a command is completed: every flag of every listed command is in each
// script, under that command, and no hidden command is offered.
func TestCompletionFlagsAreTheRealOnes(t *testing.T) {
	model, err := completionModel(commands)
	if err != nil {
		t.Fatal(err)
	}
	bash, zsh, fish := bashCompletion(model), zshCompletion(model), fishCompletion(model)
	n := 0
	for name, c := range commands {
		if c.hidden {
			if strings.Contains(bash, "\n    "+name+")") || strings.Contains(zsh, "'"+name+":") || strings.Contains(fish, "-a "+name+" ") {
				t.Errorf("the hidden command %s is offered", name)
			}
			continue
		}
		flags, err := commandFlags(commands, name)
		if err != nil {
			t.Fatal(err)
		}
		_, bashSection, _ := strings.Cut(bash, "\n    "+name+") flags='")
		bashFlags, _, _ := strings.Cut(bashSection, "'")
		_, zshSection, _ := strings.Cut(zsh, "\n    "+name+")\n        args=(\n")
		zshSection, _, _ = strings.Cut(zshSection, "        ) ;;")
		for _, f := range flags {
			n++
			if !slices.Contains(strings.Fields(bashFlags), "-"+f.name) {
				t.Errorf("bash: %s -%s is not in %q", name, f.name, bashFlags)
			}
			if !strings.Contains(zshSection, "'-"+f.name+"[") && !strings.Contains(zshSection, "'*-"+f.name+"[") {
				t.Errorf("zsh: %s -%s is not in its arguments", name, f.name)
			}
			if !strings.Contains(fish, "complete -c perfprov -n '__perfprov_using "+name+"' -o "+f.name+" ") {
				t.Errorf("fish: %s -%s has no complete line", name, f.name)
			}
		}
	}
	if applyFlags, _ := commandFlags(commands, "apply"); !slices.ContainsFunc(applyFlags, func(f completionFlag) bool { return f.name == "auto-approve" && !f.takesValue }) {
		t.Errorf("apply's flags lack -auto-approve as a flag without a value: %+v", applyFlags)
	}
	if n < 40 {
		t.Errorf("only %d flags in all: the flag sets were not read", n)
	}
}

// TestCompleteHostsReadsTheCommandLine: __complete hosts reads the spec the line names (its PATH,
// report's -spec, with -inventory), else the current directory, and joins bash's -flag = value.
func TestCompleteHostsReadsTheCommandLine(t *testing.T) {
	_, work, _ := completionSetup(t, "bash")
	inv := filepath.Join(t.TempDir(), "inv.hcl")
	if err := os.WriteFile(inv, []byte("host \"lab1\" {\n  address = \"127.0.0.1\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "main.hcl"), []byte("host \"x1\" {\n  address = \"127.0.0.1\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{nil, "web1 web2 db1 web"},
		{[]string{"apply", "-limit"}, "web1 web2 db1 web"},
		{[]string{"plan", other, "-limit"}, "x1"},
		{[]string{"plan", "-json", "-parallel", "3", other, "-limit"}, "x1"},
		{[]string{"apply", "-inventory", inv, "-limit"}, "lab1"},
		{[]string{"apply", "-inventory", "=", inv, "-limit"}, "lab1"},
		{[]string{"report", "-spec", other, "a.json"}, "x1"},
		{[]string{"apply", "-var-file", "missing.hcl", "-limit"}, "web1 web2 db1 web"}, // an error: quietly, what was read
		{[]string{"nosuch", "-limit"}, "web1 web2 db1 web"},
	} {
		env, stdout, stderr := testEnv()
		env.commands = commands
		err := runComplete(context.Background(), env, append([]string{"hosts"}, tc.words...))
		if got := strings.Join(strings.Fields(stdout.String()), " "); err != nil || got != tc.want || stderr.Len() > 0 {
			t.Errorf("%q: %q, %v, stderr %q; want %q", tc.words, got, err, stderr, tc.want)
		}
	}
}
