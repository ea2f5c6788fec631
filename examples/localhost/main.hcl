# One-shot bootstrap of the machine perfprov runs on: no SSH, commands run locally as root.
#
#   sudo perfprov apply examples/localhost
#   perfprov bench examples/localhost

variable "members" {
  type        = list(string)
  default     = ["perfprov"]
  description = "Users who may profile on this machine; the first one runs the benchmark."
}

host "localhost" {
  connection {
    type   = "local"
    become = "none"
  }
}

module "perf" {
  source = "builtin/perf"
  from   = "package"
}

module "perf_users" {
  source  = "builtin/perf_users"
  members = var.members
  perf    = module.perf.binary
}

benchmark "counters" {
  run_as    = var.members[0]
  perf      = module.perf.binary
  tolerance = "1%"
}
