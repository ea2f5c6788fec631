package hcl

import "github.com/zclconf/go-cty/cty"

// AttrSchema describes one attribute of a resource type.
type AttrSchema struct {
	Name     string
	Type     cty.Type
	Required bool
	// Default is the value of an optional attribute that is not set (cty.NilVal: null).
	Default   cty.Value
	Sensitive bool
	Doc       string
}

// ResourceSchema describes one resource type: its attributes and what it does.
type ResourceSchema struct {
	Type  string
	Doc   string
	Attrs []AttrSchema
	// OneOf lists groups of attributes of which exactly one must be set (for example content or source).
	OneOf [][]string
}

// Attr returns the schema of the named attribute, or nil.
func (s *ResourceSchema) Attr(name string) *AttrSchema {
	for i := range s.Attrs {
		if s.Attrs[i].Name == name {
			return &s.Attrs[i]
		}
	}
	return nil
}

// MetaArguments are accepted by every resource block and are not resource attributes.
var MetaArguments = []string{"hosts", "depends_on", "for_each", "count"}

var (
	str     = cty.String
	num     = cty.Number
	boolean = cty.Bool
	strList = cty.List(cty.String)
	strMap  = cty.Map(cty.String)
)

// ResourceSchemas is the catalogue of resource types. The engine implements each one.
var ResourceSchemas = map[string]*ResourceSchema{
	"group": {
		Type: "group",
		Doc:  "A local group exists.",
		Attrs: []AttrSchema{
			{Name: "name", Type: str, Doc: "Group name; defaults to the resource name."},
			{Name: "gid", Type: num, Doc: "Numeric GID for a new group; an existing group's GID is not changed."},
			{Name: "system", Type: boolean, Default: cty.False, Doc: "Create a system group."},
		},
	},
	"user": {
		Type: "user",
		Doc:  "A local user exists and belongs to the given supplementary groups (existing memberships are kept).",
		Attrs: []AttrSchema{
			{Name: "name", Type: str, Doc: "User name; defaults to the resource name."},
			{Name: "groups", Type: strList, Default: cty.ListValEmpty(cty.String), Doc: "Supplementary groups to add the user to; other memberships are never dropped."},
			{Name: "shell", Type: str, Doc: "Login shell for a new user."},
			{Name: "home", Type: str, Doc: "Home directory for a new user."},
			{Name: "system", Type: boolean, Default: cty.False, Doc: "Create a system user."},
			{Name: "uid", Type: num, Doc: "Numeric UID for a new user."},
		},
	},
	"directory": {
		Type: "directory",
		Doc:  "A directory exists with the given owner, group and mode (parents are created as needed).",
		Attrs: []AttrSchema{
			{Name: "path", Type: str, Required: true, Doc: "Absolute path."},
			{Name: "owner", Type: str, Doc: "Owner user name (unchanged when unset)."},
			{Name: "group", Type: str, Doc: "Group name (unchanged when unset)."},
			{Name: "mode", Type: str, Doc: `Octal mode such as "0755" (unchanged when unset).`},
		},
	},
	"file": {
		Type: "file",
		Doc:  "A file has the given content, uploaded atomically; skipped when its sha256 already matches.",
		Attrs: []AttrSchema{
			{Name: "path", Type: str, Required: true, Doc: "Absolute path on the host."},
			{Name: "content", Type: str, Doc: "The file's content."},
			{Name: "source", Type: str, Doc: "A file on the controller, relative to the spec file, whose content is uploaded."},
			{Name: "owner", Type: str, Doc: "Owner user name (default root)."},
			{Name: "group", Type: str, Doc: "Group name (default root)."},
			{Name: "mode", Type: str, Default: cty.StringVal("0644"), Doc: "Octal mode."},
		},
		OneOf: [][]string{{"content", "source"}},
	},
	"permissions": {
		Type: "permissions",
		Doc:  "An existing path has the given owner, group and mode. Ownership changes come before the mode.",
		Attrs: []AttrSchema{
			{Name: "path", Type: str, Required: true, Doc: "Absolute path that must exist (made by an earlier resource)."},
			{Name: "owner", Type: str, Doc: "Owner user name (unchanged when unset)."},
			{Name: "group", Type: str, Doc: "Group name (unchanged when unset)."},
			{Name: "mode", Type: str, Doc: `Octal mode such as "0750" (unchanged when unset).`},
		},
	},
	"sysctl": {
		Type: "sysctl",
		Doc:  "A kernel parameter has the value at runtime (read back to verify) and in a persistent drop-in.",
		Attrs: []AttrSchema{
			{Name: "name", Type: str, Required: true, Doc: `Parameter name, such as "kernel.perf_event_paranoid".`},
			{Name: "value", Type: str, Required: true, Doc: "Value; numbers are accepted and compared as text after trimming."},
			{Name: "persist", Type: boolean, Default: cty.True, Doc: "Also write the value to persist_file."},
			{Name: "persist_file", Type: str, Default: cty.StringVal("/etc/sysctl.d/99-zz-perfprov.conf"), Doc: "Drop-in file; its name must sort after the distribution's files (Debian links /etc/sysctl.conf as 99-sysctl.conf)."},
		},
	},
	"capabilities": {
		Type: "capabilities",
		Doc:  "A binary carries exactly the given file capabilities, set with setcap and verified with setcap -v.",
		Attrs: []AttrSchema{
			{Name: "path", Type: str, Required: true, Doc: "The ELF binary. Scripts are refused: file capabilities do nothing on them."},
			{Name: "caps", Type: strList, Required: true, Doc: `Capability names such as ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"].`},
			{Name: "flags", Type: str, Default: cty.StringVal("ep"), Doc: `Capability flags: "ep", "eip", "p"...`},
			{Name: "setcap", Type: str, Default: cty.StringVal("setcap"), Doc: "The setcap binary to use, e.g. one built by the libcap module."},
			{Name: "follow_symlinks", Type: boolean, Default: cty.False, Doc: "Allow path to be a symlink and set capabilities on its target."},
		},
	},
	"package": {
		Type: "package",
		Doc:  "Distribution packages are installed (apt, dnf, yum, zypper or apk, from facts); only missing ones.",
		Attrs: []AttrSchema{
			{Name: "names", Type: strList, Required: true, Doc: "Package names."},
			{Name: "manager", Type: str, Doc: "Override the package manager found in facts."},
			{Name: "update_cache", Type: boolean, Default: cty.False, Doc: "Refresh the package index before installing."},
		},
	},
	"source": {
		Type: "source",
		Doc:  "A source archive is unpacked into a directory; replaced only when the archive's sha256 changes.",
		Attrs: []AttrSchema{
			{Name: "path", Type: str, Doc: "An archive on the controller, relative to the spec file."},
			{Name: "url", Type: str, Doc: "An archive URL, downloaded once on the controller into a cache."},
			{Name: "sha256", Type: str, Doc: "The archive's sha256; required with url."},
			{Name: "dest", Type: str, Required: true, Doc: "Directory on the host to unpack into."},
			{Name: "strip_components", Type: num, Default: cty.NumberIntVal(1), Doc: "Leading path components to strip when unpacking."},
		},
		OneOf: [][]string{{"path", "url"}},
	},
	"patch": {
		Type: "patch",
		Doc:  "Patch files are applied to a source tree in order, once each; a patch that does not apply leaves the tree as it was.",
		Attrs: []AttrSchema{
			{Name: "dir", Type: str, Required: true, Doc: "The source tree on the host."},
			{Name: "patches", Type: strList, Required: true, Doc: "Patch files on the controller, relative to the spec file, applied in order."},
			{Name: "strip", Type: num, Default: cty.NumberIntVal(1), Doc: "Leading path components to strip (patch -pN)."},
		},
	},
	"build": {
		Type: "build",
		Doc:  "Commands build a tree; a stamp of the inputs decides whether to rebuild.",
		Attrs: []AttrSchema{
			{Name: "dir", Type: str, Required: true, Doc: "Directory the commands run in."},
			{Name: "commands", Type: strList, Required: true, Doc: "Shell commands, run in order; the first failure stops the build."},
			{Name: "env", Type: strMap, Default: cty.MapValEmpty(cty.String), Doc: "Environment for the commands (not for secrets)."},
			{Name: "artifacts", Type: strList, Default: cty.ListValEmpty(cty.String), Doc: "Paths the build must leave; missing ones fail it and trigger a rebuild next time."},
			{Name: "triggers", Type: strMap, Default: cty.MapValEmpty(cty.String), Doc: "Extra values that, when changed, force a rebuild."},
			{Name: "timeout", Type: str, Default: cty.StringVal("60m"), Doc: "Time limit for the whole build."},
		},
	},
	"command": {
		Type: "command",
		Doc:  "A command runs when its guards say so.",
		Attrs: []AttrSchema{
			{Name: "run", Type: str, Required: true, Doc: "Shell command line."},
			{Name: "creates", Type: str, Doc: "Skip when this path exists."},
			{Name: "unless", Type: str, Doc: "Skip when this command exits 0."},
			{Name: "only_if", Type: str, Doc: "Run only when this command exits 0."},
			{Name: "run_as", Type: str, Doc: "Run as this user instead of root."},
			{Name: "env", Type: strMap, Default: cty.MapValEmpty(cty.String), Doc: "Environment for the command (not for secrets)."},
			{Name: "timeout", Type: str, Default: cty.StringVal("10m"), Doc: `Time limit, such as "30s" or "5m".`},
		},
	},
}
