# The CAP_PERFMON example on VM hosts (Debian's own kernels): the distribution's perf, alice a
# perf_users member, the paranoid value and its drop-in as variables, and the counter benchmark
# as the member.

variable "paranoid" {
  type    = number
  default = 2
}

variable "persist_file" {
  type    = string
  default = "/etc/sysctl.d/99-zz-perf-security.conf"
}

module "perf" {
  source = "builtin/perf"
  from   = "package"
}

module "perf_users" {
  source       = "builtin/perf_users"
  members      = ["alice"]
  perf         = module.perf.binary
  paranoid     = var.paranoid
  persist_file = var.persist_file
}

benchmark "counters" {
  run_as = "alice"
  perf   = module.perf.binary
}
