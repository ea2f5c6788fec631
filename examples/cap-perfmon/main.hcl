# The CAP_PERFMON workflow of the kernel's perf-security guide, as the CAP_SYS_PERFMON cover
# letter runs it: libcap built from its source with a patch, perf built from kernel source with a
# patch, the new setcap used to give perf cap_perfmon,cap_sys_ptrace,cap_syslog=ep, perf
# restricted to the perf_users group, kernel.perf_event_paranoid = 2.
#
# Sources come from scripts/fetch-sources.sh (a cache, never committed).

variable "libcap_tarball" {
  type        = string
  default     = "/var/cache/perfprov/sources/libcap2_2.66.orig.tar.xz"
  description = "libcap's upstream release tarball (Debian's libcap2 orig tarball)."
}

variable "kernel_tarball" {
  type        = string
  default     = "/var/cache/perfprov/sources/linux-source-6.1.tar.xz"
  description = "A kernel (or perf-only) source tarball that holds tools/perf."
}

variable "members" {
  type        = list(string)
  default     = ["alice"]
  description = "Users who may profile."
}

module "libcap" {
  source      = "builtin/libcap"
  source_path = var.libcap_tarball
  patches     = ["patches/libcap-version-suffix.patch"]
}

module "perf" {
  source             = "builtin/perf"
  from               = "source"
  kernel_source_path = var.kernel_tarball
  patches            = ["patches/perf-version-suffix.patch"]
}

module "perf_users" {
  source   = "builtin/perf_users"
  members  = var.members
  perf     = module.perf.binary
  setcap   = module.libcap.setcap
  paranoid = 2
}

benchmark "counters" {
  run_as = var.members[0]
  perf   = module.perf.binary
}
