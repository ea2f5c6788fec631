package transport

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/perfprov/perfprov/provision/shell"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// userName is what perfprov accepts as a user name to switch to (useradd's default NAME_REGEX,
// with the trailing $ of machine accounts): nothing a shell or sudo could read as an option.
var userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)

// ValidUserName reports whether name is a user name perfprov passes to sudo -u.
func ValidUserName(name string) bool {
	return len(name) <= 32 && userName.MatchString(name)
}

// ShellScript is cmd.Script with cmd.Env exported in front of it: the text to give /bin/sh -c.
// The environment goes inside the script because sshd accepts only the variables its AcceptEnv
// lists, and sudo resets the environment.
func ShellScript(cmd Command) (string, error) {
	if len(cmd.Env) == 0 {
		return cmd.Script, nil
	}
	names := make([]string, 0, len(cmd.Env))
	for k := range cmd.Env {
		if !envName.MatchString(k) {
			return "", fmt.Errorf("environment variable name %q is not a shell name", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString("export " + k + "=" + shell.Quote(cmd.Env[k]) + "\n")
	}
	b.WriteString(cmd.Script)
	return b.String(), nil
}

// shCommand is the command line sent to the login shell: /bin/sh -c SCRIPT, quoted once.
func shCommand(script string) string {
	return "/bin/sh -c " + shell.Quote(script)
}

// maxArgLen stays under Linux's MAX_ARG_STRLEN (128 KiB for one argument): a longer script goes
// to /bin/sh -s on stdin.
const maxArgLen = 100 * 1024
