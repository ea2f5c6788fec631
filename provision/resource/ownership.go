package resource

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
)

// ownership is the owner, group and mode a path should have; empty/hasMode false: leave as is.
type ownership struct {
	owner, group string
	mode         uint32
	hasMode      bool
}

func readOwnership(a attrs, defOwner, defGroup, defMode string) (ownership, error) {
	var o ownership
	var e errs
	var err error
	o.owner, err = a.strOr("owner", defOwner)
	e.add(err)
	o.group, err = a.strOr("group", defGroup)
	e.add(err)
	m, err := a.strOr("mode", defMode)
	e.add(err)
	if m != "" {
		o.mode, err = parseMode(m)
		e.add(err)
		o.hasMode = err == nil
	}
	return o, e.err()
}

// pathState is what stat told about a path (following symlinks, as chown and chmod do).
type pathState struct {
	exists bool
	kind   string // "regular file", "directory", ...
	owner  string
	group  string
	mode   uint32
}

// statSnippet prints exists=0, or exists=1 and the path's kind, owner, group and mode (and, from
// the batch's prelude, its fingerprint as fp=: see prelude.StatFields). It leaves the fingerprint
// in $_f for what follows it in the snippet ("" without the prelude).
func statSnippet(path string) string {
	return fmt.Sprintf("p=%s\n_f=\nif [ -e \"$p\" ]; then echo exists=1\n%selse echo exists=0; fi\n",
		shell.Quote(path), prelude.StatLookup(`printf 'kind=%s\nowner=%s\ngroup=%s\nuid=%s\ngid=%s\nmode=%s\nfp=%s\n' "$_k" "$_o" "$_g" "$_u" "$_i" "$_m" "$_f"`, `stat -L -c 'kind=%F
owner=%U
group=%G
uid=%u
gid=%g
mode=%a' -- "$p"`))
}

// Preluder is implemented by the types whose read needs what a batched read's prelude learns
// once for every resource of the host (package prelude): the stat of paths, lines of files,
// mounts. Their snippets look it up with shell builtins, and do the work themselves, in
// processes of their own, only when there is no prelude (a resource read again on its own).
type Preluder interface {
	Prelude() prelude.Plan
}

func parsePathState(m map[string]string) (pathState, error) {
	var st pathState
	st.exists = m["exists"] == "1"
	if !st.exists {
		return st, nil
	}
	st.kind = m["kind"]
	st.owner = m["owner"]
	if st.owner == "UNKNOWN" {
		st.owner = m["uid"]
	}
	st.group = m["group"]
	if st.group == "UNKNOWN" {
		st.group = m["gid"]
	}
	mode, err := strconv.ParseUint(m["mode"], 8, 32)
	if err != nil {
		return st, fmt.Errorf("unreadable mode %q in stat output", m["mode"])
	}
	st.mode = uint32(mode)
	return st, nil
}

// diff lists the ownership changes from st; a missing path lists every set attribute.
func (o ownership) diff(st pathState) []Change {
	var out []Change
	if o.owner != "" && o.owner != st.owner {
		out = append(out, Change{Attr: "owner", Old: st.owner, New: o.owner})
	}
	if o.group != "" && o.group != st.group {
		out = append(out, Change{Attr: "group", Old: st.group, New: o.group})
	}
	if o.hasMode && (!st.exists || o.mode != st.mode) {
		old := ""
		if st.exists {
			old = fmtMode(st.mode)
		}
		out = append(out, Change{Attr: "mode", Old: old, New: fmtMode(o.mode)})
	}
	if !st.exists {
		for i := range out {
			out[i].Old = ""
		}
	}
	return out
}

// script returns the commands that give path this ownership, starting from st. Order matters:
//   - when the mode loses bits, it is narrowed first to the bits the old and new mode share, so
//     that a new owner or group never sees a wider mode than the one it ends with;
//   - owner and group come next: chown clears set-id bits and file capabilities;
//   - the final mode comes last, so it survives the chown.
func (o ownership) script(path string, st pathState) string {
	var b strings.Builder
	q := shell.Quote(path)
	chown := (o.owner != "" && o.owner != st.owner) || (o.group != "" && o.group != st.group)
	cur := st.mode
	if chown && o.hasMode && st.exists {
		narrow := st.mode & o.mode & 0o777
		if narrow != st.mode&0o7777 {
			fmt.Fprintf(&b, "chmod %s -- %s\n", chmodArg(narrow), q)
			cur = narrow
		}
	}
	switch {
	case o.owner != "" && o.owner != st.owner && o.group != "" && o.group != st.group:
		fmt.Fprintf(&b, "chown -- %s %s\n", shell.Quote(o.owner+":"+o.group), q)
	case o.owner != "" && o.owner != st.owner:
		fmt.Fprintf(&b, "chown -- %s %s\n", shell.Quote(o.owner), q)
	case o.group != "" && o.group != st.group:
		fmt.Fprintf(&b, "chgrp -- %s %s\n", shell.Quote(o.group), q)
	}
	// chown clears set-id bits: a mode with them is set again after it.
	if o.hasMode && (o.mode != cur || !st.exists || (chown && (o.mode|cur)&0o6000 != 0)) {
		fmt.Fprintf(&b, "chmod %s -- %s\n", chmodArg(o.mode), q)
	}
	return b.String()
}

// chmodArg writes a mode with five octal digits: GNU chmod keeps a directory's set-id bits for a
// four-digit mode, and only an explicit leading 0 clears them.
func chmodArg(m uint32) string { return fmt.Sprintf("%05o", m) }
