# The distribution's perf on every host of a fleet, restricted to perf_users, rolled out in
# batches: 40% of the hosts at a time, stopping when more than 20% of them failed.
#
# inventory.hcl describes the fleet (hosts in groups, a bastion for the db group). To run the
# same spec against other hosts, give their inventory instead:
#   perfprov apply -inventory my-hosts.hcl examples/fleet
# (every host needs vars.role, here from its group).

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

# The real ELF behind /usr/bin/perf (a wrapper script on Ubuntu), copied to /opt/perf/bin/perf.
module "perf" {
  source = "builtin/perf"
  from   = "package"
}

module "perf_users" {
  source     = "builtin/perf_users"
  members    = var.members
  perf       = module.perf.binary
  extra_caps = ["cap_ipc_lock"] # perf top's ring buffers
}

resource "directory" "motd_d" {
  path = "/etc/motd.d"
  mode = "0755"
}

resource "file" "motd" {
  path       = "/etc/motd.d/perf"
  content    = "${host.name} (${host.vars.role}): perf for ${join(", ", var.members)} at ${module.perf.binary}\n"
  mode       = "0644"
  depends_on = [resource.directory.motd_d]
}

benchmark "counters" {
  hosts  = ["profiling"]
  run_as = var.members[0]
  perf   = module.perf.binary
  repeat = 3
}
