package spec

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// The rules for the names and values a spec gives: each is written once, here, and used by the
// loader (validate, plan), by the resources before anything reaches a host, and by the transport
// and the benchmark for the users they run commands as.

var (
	// loginNameRE is what shadow-utils' useradd accepts by default: lowercase letters, digits,
	// '_' and '-', starting with a letter or '_', an optional trailing '$' (machine accounts).
	loginNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	modeRE      = regexp.MustCompile(`^0?[0-7]{3}$|^[0-7]{4}$`)
	sha256RE    = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	capFlagsRE  = regexp.MustCompile(`^[eip]+$`)
	// sysctlNameRE takes both forms, kernel.perf_event_paranoid and kernel/perf_event_paranoid;
	// a component may hold ':' (interface aliases under net.ipv4.conf).
	sysctlNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+([./][A-Za-z0-9_:-]+)*$`)
	// packageNameRE covers the managers' spellings: apt's name=version and name:arch, apk's
	// name@repository, rpm's epoch~ and + in names.
	packageNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+._:~=@-]*$`)
)

// MaxLoginName is the longest user or group name Linux tools accept.
const MaxLoginName = 32

// PackageManagers are the package managers the package resource drives.
var PackageManagers = []string{"apt", "dnf", "yum", "zypper", "apk", "pacman"}

// DefaultSysctlFile is the drop-in a sysctl resource persists to: its name sorts after the
// distributions' own files (Debian links /etc/sysctl.conf as 99-sysctl.conf).
const DefaultSysctlFile = "/etc/sysctl.d/99-zz-perfprov.conf"

// ValidLoginName reports whether s is a user or group name perfprov passes to a host.
func ValidLoginName(s string) bool {
	return len(s) <= MaxLoginName && loginNameRE.MatchString(s)
}

// CheckLoginName checks a user or group name; kind ("user", "group") names it in the error.
func CheckLoginName(kind, s string) error {
	if !ValidLoginName(s) {
		return fmt.Errorf("%q is not a valid %s name: use up to %d lowercase letters, digits, '_' and '-', starting with a letter or '_'.", s, kind, MaxLoginName)
	}
	return nil
}

// ValidEnvName reports whether s is an environment variable name.
func ValidEnvName(s string) bool { return envNameRE.MatchString(s) }

// CheckHostPath checks a path on a host: absolute, one line, no "." or ".." components, no
// trailing '/'.
func CheckHostPath(attr, p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%s must be an absolute path on the host, not %q.", attr, p)
	case strings.ContainsAny(p, "\x00\n\r"):
		return fmt.Errorf("%s %q contains a control character.", attr, p)
	case p != "/" && strings.HasSuffix(p, "/"):
		return fmt.Errorf("%s %q must not end with '/'.", attr, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("%s %q must not contain '.' or '..' components.", attr, p)
		}
	}
	return nil
}

// CheckMode checks an octal mode such as "0750" (no symbolic modes).
func CheckMode(s string) error {
	if !modeRE.MatchString(s) {
		return fmt.Errorf("mode must be an octal string such as \"0750\", not %q.", s)
	}
	return nil
}

// CheckSHA256 checks a sha256 digest in hexadecimal.
func CheckSHA256(s string) error {
	if !sha256RE.MatchString(s) {
		return errors.New("sha256 must be 64 hexadecimal digits.")
	}
	return nil
}

// CheckTimeout checks a positive duration such as "30s".
func CheckTimeout(s string) error {
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return fmt.Errorf("timeout must be a positive duration such as \"30s\" or \"10m\", not %q.", s)
	}
	return nil
}

// CheckCapFlags checks setcap flags such as "ep".
func CheckCapFlags(s string) error {
	if !capFlagsRE.MatchString(s) {
		return fmt.Errorf("flags must be made of e, i and p (such as \"ep\"), not %q.", s)
	}
	return nil
}

// CheckSysctlName checks a kernel parameter name.
func CheckSysctlName(s string) error {
	if !sysctlNameRE.MatchString(s) {
		return fmt.Errorf("%q is not a sysctl parameter name such as \"kernel.perf_event_paranoid\".", s)
	}
	return nil
}

// CheckPackageName checks one distribution package name.
func CheckPackageName(s string) error {
	if !packageNameRE.MatchString(s) {
		return fmt.Errorf("%q is not a valid package name.", s)
	}
	return nil
}

// NotOneOfError is a value outside a fixed set: the loader adds a suggestion from Allowed.
type NotOneOfError struct {
	Attr    string
	Value   string
	Allowed []string
}

func (e *NotOneOfError) Error() string {
	return fmt.Sprintf("%s must be one of %s, not %q.", e.Attr, quoteList(e.Allowed), e.Value)
}

// CheckPackageManager checks a package manager's name.
func CheckPackageManager(s string) error {
	if !slices.Contains(PackageManagers, s) {
		return &NotOneOfError{Attr: "manager", Value: s, Allowed: PackageManagers}
	}
	return nil
}

// CheckWholeNumber checks a number that is whole, 0 or more, and fits a Linux id.
func CheckWholeNumber(attr string, v cty.Value) error {
	bf := v.AsBigFloat()
	if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(1<<31)) > 0 {
		return fmt.Errorf("%s must be a whole number, 0 or more.", attr)
	}
	return nil
}

// quoteList writes "a", "b", "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// ProxyCommandTokens are the % tokens a ProxyCommand (ssh_config's, or the spec's
// proxy_command) may hold, OpenSSH's: %h the host name, %p the port, %r the login user, %n the
// name as written (the alias), %% a %.
const ProxyCommandTokens = "%%, %h, %n, %p and %r"

// ExpandProxyCommand replaces the % tokens of cmd with what value gives for each ('h', 'n', 'p',
// 'r'), as OpenSSH's percent_expand: an unknown token, or a % at the end, is an error, and so is
// an error of value's.
func ExpandProxyCommand(cmd string, value func(token byte) (string, error)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '%' {
			b.WriteByte(cmd[i])
			continue
		}
		if i+1 == len(cmd) {
			return "", fmt.Errorf("a %% at the end of the command: write %%%% for a %%")
		}
		i++
		if cmd[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if !strings.ContainsRune("hnpr", rune(cmd[i])) {
			return "", fmt.Errorf("unknown token %%%c: a proxy command may use %s", cmd[i], ProxyCommandTokens)
		}
		v, err := value(cmd[i])
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// CheckProxyCommand checks the spec's proxy_command: a command for /bin/sh, or "none", with only
// the tokens ExpandProxyCommand knows.
func CheckProxyCommand(cmd string) error {
	if strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("proxy_command is empty: write the command that connects to the host (for example \"ssh -W %%h:%%p bastion\"), or \"none\"")
	}
	_, err := ExpandProxyCommand(cmd, func(byte) (string, error) { return "", nil })
	return err
}
