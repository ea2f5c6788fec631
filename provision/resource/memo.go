package resource

import (
	"strings"

	"github.com/perfprov/perfprov/internal/shell"
)

// Memo is what a read learned of a file that depends on the file alone: the lines printed by the
// part of the read that hashes its content, runs getcap on it or reads its ELF header, with the
// file's stat fingerprint (prelude.StatFields) when they were printed. Every write to the file,
// and every change of its mode, owner or extended attributes, gives it a new ctime, so a later
// read whose stat gives the same fingerprint prints the lines instead of doing that work again:
// processes on the host, on every run.
//
// The engine keeps memos on the controller (one file per user, like the other caches) and uses
// one only once a second read, seconds later, printed the same lines for the same fingerprint: a
// file written again within the same tick of its filesystem's clock as the first read would keep
// its fingerprint with another content, which the second read would have seen.
type Memo struct {
	Fingerprint string   `json:"fingerprint"`
	Lines       []string `json:"lines"`
}

// Memoizer is a resource whose read can take a Memo.
type Memoizer interface {
	// MemoKey names what it remembers on its host; "" when it must remember nothing (the hash
	// of a sensitive file's content is not written to the controller's disk).
	MemoKey() string
	// UseMemo gives it, before ReadScript, what earlier reads of the host remembered.
	UseMemo(m Memo)
	// KeepMemo says whether the lines a read printed may be remembered: those of work that
	// went wrong (a tool missing, say) must be done again next time.
	KeepMemo(lines []string) bool
}

// memoScript is shell that prints m's lines when $_f, the fingerprint of the file that the
// snippet looked up in the prelude (prelude.StatLookup), is m's, and then runs hit with them in
// $_pp_memo; else it runs work, framed by memo=FINGERPRINT and memo.end=1 lines when the
// fingerprint is known (ParseMemo reads them).
func memoScript(m Memo, work, hit string) string {
	var b strings.Builder
	if m.Fingerprint != "" {
		b.WriteString("if [ -n \"$_f\" ] && [ \"$_f\" = " + shell.Quote(m.Fingerprint) + " ]; then\n")
		b.WriteString("_pp_memo=" + shell.Quote(strings.Join(m.Lines, "\n")) + "\nprintf '%s\\n' \"$_pp_memo\"\n")
		if hit != "" {
			b.WriteString(hit + "\n")
		}
		b.WriteString("else\n")
	}
	b.WriteString("[ -z \"$_f\" ] || printf 'memo=%s\\n' \"$_f\"\n")
	b.WriteString(work)
	b.WriteString("\n[ -z \"$_f\" ] || echo memo.end=1\n")
	if m.Fingerprint != "" {
		b.WriteString("fi\n")
	}
	return b.String()
}

// ParseMemo returns the memo a read printed (ok false: none, or cut short).
func ParseMemo(out []byte) (m Memo, ok bool) {
	in := false
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case !in && strings.HasPrefix(l, "memo="):
			m, in = Memo{Fingerprint: strings.TrimPrefix(l, "memo=")}, true
		case in && l == "memo.end=1":
			if m.Fingerprint == "" {
				return Memo{}, false
			}
			return m, true
		case in:
			m.Lines = append(m.Lines, l)
		}
	}
	return Memo{}, false
}
