// Package shell is the one place where values become text for a remote POSIX shell.
//
// Every value that reaches a remote command line (paths, user names, file contents passed as
// arguments, patch names...) goes through Quote or Join. Nothing else in perfprov builds shell
// text by concatenating untrusted values.
package shell

import "strings"

// Quote returns s as a single POSIX shell word that the shell reads back as exactly s.
//
// It uses single quotes, inside which no character is special, and closes, escapes and reopens
// the quoting around an embedded single quote. Words made only of characters that are never special are left bare so that
// logs stay readable.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word and joins them with spaces: a command line that runs argv as given.
func Join(argv ...string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " ")
}

func isSafe(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("@%+=:,./_-", r):
		default:
			return false
		}
	}
	return true
}
