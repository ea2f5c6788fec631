# Distribution perf on every host of the fleet, restricted to perf_users, rolled out in batches.

variable "members" {
  type        = list(string)
  default     = ["alice", "bob"]
  description = "Users who may profile on every host."
}

rollout {
  parallel            = 20
  batch               = "40%"
  max_fail_percentage = 20
}

module "perf" {
  source = "builtin/perf"
  from   = "package"
}

module "perf_users" {
  source     = "builtin/perf_users"
  members    = var.members
  perf       = module.perf.binary
  extra_caps = ["cap_ipc_lock"]
}

resource "file" "motd" {
  path    = "/etc/motd.d/perf"
  content = "${host.name} (${host.vars.role}): perf for ${join(", ", var.members)} at ${module.perf.binary}\n"
  mode    = "0644"
}

benchmark "counters" {
  hosts  = ["profiling"]
  run_as = var.members[0]
  perf   = module.perf.binary
  repeat = 3
}
