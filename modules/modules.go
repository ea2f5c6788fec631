// Package modules holds the built-in HCL modules, embedded in the perfprov binary and used from a
// spec as source = "builtin/NAME".
package modules

import "embed"

// FS holds one directory per built-in module: libcap, perf, perf_users.
//
//go:embed all:builtin
var FS embed.FS
