# The CAP_PERFMON workflow of the kernel's perf-security guide, as the CAP_SYS_PERFMON cover
# letter runs it: libcap built from its source with a patch, perf built from kernel source with a
# patch, the new setcap used to give perf cap_perfmon,cap_sys_ptrace,cap_syslog=ep (verified
# with setcap -v), perf restricted to the perf_users group, kernel.perf_event_paranoid = 2, and
# on every plan and apply a member's perf stat -a checked to run with CapEff 0000004400080000
# while a non-member is refused.
#
# The patches (patches/) add a "+perfprov" version suffix, so the host shows that the patched
# builds are the ones installed:
#   /opt/libcap/sbin/capsh --version   ->  capsh (libcap) 2.66+perfprov
#   /opt/perf/bin/perf --version       ->  perf version 6.1.192+perfprov
#
# Sources come from scripts/fetch-sources.sh (a cache, never committed):
#   perfprov apply -var kernel_tarball=/var/cache/perfprov/sources/perf-6.1.192.tar.xz examples/cap-perfmon

variable "libcap_tarball" {
  type        = string
  default     = "/var/cache/perfprov/sources/libcap2_2.66.orig.tar.xz"
  description = "libcap's upstream release tarball (Debian's libcap2 orig tarball)."
}

variable "kernel_tarball" {
  type        = string
  default     = "/var/cache/perfprov/sources/perf-6.1.192.tar.xz"
  description = "A kernel source tarball, or the perf-only one scripts/perf-src-tarball.sh makes from it (2.7 MB instead of 138 MB)."
}

variable "members" {
  type        = list(string)
  default     = ["alice"]
  description = "Users who may profile; the first one runs the checks."
}

module "libcap" {
  source      = "builtin/libcap"
  source_path = var.libcap_tarball
  patches     = ["patches/libcap/0001-perfprov-version-suffix.patch"]
}

module "perf" {
  source             = "builtin/perf"
  from               = "source"
  kernel_source_path = var.kernel_tarball
  patches            = ["patches/perf/0001-perfprov-version-suffix.patch"]
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
