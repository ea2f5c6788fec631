package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := func(mod string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: Module, Version: mod}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	const rev = "2e300c58ae7300e1848b0a66c1000b4a211b1470"
	for _, tc := range []struct {
		name   string
		bi     *debug.BuildInfo
		linked string
		want   []string // lines of Write, in order
	}{
		{"a git clone", stamped("v0.0.0-20261207154513-2e300c58ae73", "vcs", "git", "vcs.revision", rev,
			"vcs.time", "2026-12-07T15:45:13Z", "vcs.modified", "false", "GOOS", "linux", "GOARCH", "arm64"),
			"", []string{"perfprov v0.0.0-20261207154513-2e300c58ae73", "module    " + Module,
				"revision  " + rev + " (2026-12-07T15:45:13Z)", "built by  go1.26.8 linux/arm64"}},
		{"a clone with changes", stamped("v0.0.0-20261207154513-2e300c58ae73+dirty", "vcs.revision", rev,
			"vcs.time", "2026-12-07T15:45:13Z", "vcs.modified", "true"),
			"", []string{"perfprov v0.0.0-20261207154513-2e300c58ae73+dirty", "revision  " + rev + " (2026-12-07T15:45:13Z, modified)"}},
		{"go install MODULE@v1.2.0", stamped("v1.2.0"), "",
			[]string{"perfprov v1.2.0", "revision  unknown (no VCS information"}},
		{"-buildvcs=false", stamped(Devel), "", []string{"perfprov (devel)", "revision  unknown"}},
		{"a version set at link time", stamped("v1.2.0", "vcs.revision", rev), "v1.2.1-rc1",
			[]string{"perfprov v1.2.1-rc1", "revision  " + rev}},
		{"no build info", nil, "", []string{"perfprov (devel)", "revision  unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			FromBuildInfo(tc.bi, tc.linked).Write(&b)
			out := b.String()
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
