package facts

import (
	"github.com/zclconf/go-cty/cty"
)

// Value returns the facts as the object that specs read as host.facts: the JSON keys, lists of
// strings as cty lists, perf, libcap and each mount as nested objects, mounts as a map keyed by
// install prefix. Its type is always Type(), whatever the host said.
func (f *Facts) Value() cty.Value {
	if f == nil {
		return UnknownValue()
	}
	mounts := map[string]cty.Value{}
	for prefix, m := range f.Mounts {
		mounts[prefix] = cty.ObjectVal(map[string]cty.Value{
			"path":        cty.StringVal(m.Path),
			"mount_point": cty.StringVal(m.MountPoint),
			"fstype":      cty.StringVal(m.FSType),
			"options":     stringList(m.Options),
			"nosuid":      cty.BoolVal(m.NoSuid),
			"noexec":      cty.BoolVal(m.NoExec),
			"readonly":    cty.BoolVal(m.ReadOnly),
		})
	}
	mountsVal := cty.MapValEmpty(mountType)
	if len(mounts) > 0 {
		mountsVal = cty.MapVal(mounts)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"os_id":                        cty.StringVal(f.OSID),
		"os_id_like":                   stringList(f.OSIDLike),
		"os_version":                   cty.StringVal(f.OSVersion),
		"os_pretty_name":               cty.StringVal(f.OSPrettyName),
		"os_family":                    cty.StringVal(f.OSFamily),
		"kernel_release":               cty.StringVal(f.KernelRelease),
		"kernel_version":               cty.StringVal(f.KernelVersion),
		"arch":                         cty.StringVal(f.Arch),
		"cap_last_cap":                 cty.NumberIntVal(int64(f.CapLastCap)),
		"kernel_perfmon_supported":     cty.BoolVal(f.KernelPerfmonSupported),
		"perf_events":                  cty.BoolVal(f.PerfEvents),
		"perf_event_paranoid":          cty.NumberIntVal(int64(f.PerfEventParanoid)),
		"distro_paranoid_patch":        cty.BoolVal(f.DistroParanoidPatch),
		"distro_paranoid_patch_reason": cty.StringVal(f.DistroParanoidPatchReason),
		"kptr_restrict":                cty.NumberIntVal(int64(f.KptrRestrict)),
		"nmi_watchdog":                 cty.NumberIntVal(int64(f.NMIWatchdog)),
		"event_sources":                stringList(f.EventSources),
		"pmu":                          stringList(f.PMU),
		"pmu_type":                     cty.StringVal(f.PMUType),
		"has_pmu":                      cty.BoolVal(f.HasPMU),
		"cpu_model":                    cty.StringVal(f.CPUModel),
		"cpu_count":                    cty.NumberIntVal(int64(f.CPUCount)),
		"package_manager":              cty.StringVal(f.PackageManager),
		"user":                         cty.StringVal(f.User),
		"uid":                          cty.NumberIntVal(int64(f.UID)),
		"groups":                       stringList(f.Groups),
		"is_root":                      cty.BoolVal(f.IsRoot),
		"has_sudo":                     cty.BoolVal(f.HasSudo),
		"sudo_no_password":             cty.BoolVal(f.SudoNoPassword),
		"no_new_privs":                 cty.BoolVal(f.NoNewPrivs),
		"perfmon_in_bounding_set":      cty.BoolVal(f.PerfmonInBoundingSet),
		"mounts":                       mountsVal,
		"perf": cty.ObjectVal(map[string]cty.Value{
			"path":             cty.StringVal(f.Perf.Path),
			"real_path":        cty.StringVal(f.Perf.RealPath),
			"is_elf":           cty.BoolVal(f.Perf.IsELF),
			"is_script":        cty.BoolVal(f.Perf.IsScript),
			"version":          cty.StringVal(f.Perf.Version),
			"version_error":    cty.StringVal(f.Perf.VersionError),
			"linux_tools_path": cty.StringVal(f.Perf.LinuxToolsPath),
			"candidates":       stringList(f.Perf.Candidates),
			"fingerprint":      cty.StringVal(f.Perf.Fingerprint),
		}),
		"libcap": cty.ObjectVal(map[string]cty.Value{
			"setcap_path": cty.StringVal(f.Libcap.SetcapPath),
			"getcap_path": cty.StringVal(f.Libcap.GetcapPath),
			"capsh_path":  cty.StringVal(f.Libcap.CapshPath),
			"version":     cty.StringVal(f.Libcap.Version),
			"lib_path":    cty.StringVal(f.Libcap.LibPath),
		}),
	})
}

var mountType = cty.Object(map[string]cty.Type{
	"path":        cty.String,
	"mount_point": cty.String,
	"fstype":      cty.String,
	"options":     cty.List(cty.String),
	"nosuid":      cty.Bool,
	"noexec":      cty.Bool,
	"readonly":    cty.Bool,
})

// Type is the type of host.facts: an object with the keys of Facts' JSON.
func Type() cty.Type { return (&Facts{}).Value().Type() }

// UnknownValue is host.facts offline, before any host was asked: every attribute is unknown but
// its type is known, so that a spec that reads a fact that does not exist fails at load time.
func UnknownValue() cty.Value { return cty.UnknownVal(Type()) }

func stringList(s []string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(s))
	for i, v := range s {
		vals[i] = cty.StringVal(v)
	}
	return cty.ListVal(vals)
}
