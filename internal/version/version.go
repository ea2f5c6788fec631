// Package version says which perfprov a binary is: the module version and the VCS revision that
// the Go toolchain records in every binary it builds (runtime/debug build info). `perfprov
// version` prints it and the header line of every -json stream carries it.
package version

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Module is perfprov's module path: `go install Module/cmd/perfprov@latest` builds it.
const Module = "github.com/perfprov/perfprov"

// Devel is the version of a binary built from a checkout without VCS information (go build
// -buildvcs=false, or outside a git clone).
const Devel = "(devel)"

// Info is what a binary knows of its own build.
type Info struct {
	// Version is the module version: a release tag (v1.2.0), the pseudo-version the toolchain
	// derives from the commit (v0.0.0-20260101120000-abcdef123456, "+dirty" when the tree had
	// changes), or Devel. A version given at link time (-ldflags -X) replaces it.
	Version string
	// Revision, Time and Modified are the VCS stamp (vcs.revision, vcs.time, vcs.modified): set
	// when the binary was built in a git clone with VCS stamping on (go build's default), empty
	// for `go install MODULE@VERSION` (the module proxy's zip holds no repository).
	Revision string
	Time     string
	Modified bool
	Go       string // the toolchain, go1.26.8
	Platform string // GOOS/GOARCH
}

// Current is this binary's Info. linked is the version set at link time ("" for none).
func Current(linked string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return FromBuildInfo(bi, linked)
}

// FromBuildInfo reads the build info bi (nil when the binary has none); linked, when not
// empty, is the version instead of the module's.
func FromBuildInfo(bi *debug.BuildInfo, linked string) Info {
	i := Info{Version: Devel, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			i.Version = v
		}
		if bi.GoVersion != "" {
			i.Go = bi.GoVersion
		}
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.time":
				i.Time = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			i.Platform = goos + "/" + goarch
		}
	}
	if linked != "" {
		i.Version = linked
	}
	return i
}

// Write prints the info as `perfprov version` does: the version, then one line each for the
// module, the revision and the toolchain.
func (i Info) Write(w io.Writer) {
	fmt.Fprintf(w, "perfprov %s\n", i.Version)
	fmt.Fprintf(w, "module    %s\n", Module)
	fmt.Fprintf(w, "revision  %s\n", i.RevisionText())
	fmt.Fprintf(w, "built by  %s %s\n", i.Go, i.Platform)
}

// RevisionText is the revision with its commit time and "modified" when the tree had changes,
// or why there is none.
func (i Info) RevisionText() string {
	if i.Revision == "" {
		return "unknown (no VCS information: built with -buildvcs=false, outside a git clone, or by go install MODULE@VERSION)"
	}
	var extra []string
	if i.Time != "" {
		extra = append(extra, i.Time)
	}
	if i.Modified {
		extra = append(extra, "modified")
	}
	if len(extra) == 0 {
		return i.Revision
	}
	return i.Revision + " (" + strings.Join(extra, ", ") + ")"
}
