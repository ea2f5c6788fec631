# The fault matrix's spec: a little of every primitive, a command slow enough for a fault to land
# while it runs, a capability on a binary, and a file that comes last.
variable "slow" {
  type    = number
  default = 4
}


resource "group" "perf" {
  name = "fperf"
}

resource "directory" "d" {
  path = "/opt/fault"
  mode = "0755"
}

resource "file" "f" {
  for_each   = toset(["a", "b", "c"])
  path       = "/opt/fault/${each.key}"
  content    = "fault ${each.key} on ${host.name}\n"
  mode       = "0644"
  depends_on = [resource.directory.d]
}

resource "command" "perfcopy" {
  creates    = "/opt/fault/perf"
  run        = "cp /bin/true /opt/fault/perf"
  depends_on = [resource.directory.d]
}

resource "permissions" "perf" {
  path       = "/opt/fault/perf"
  owner      = "root"
  group      = "fperf"
  mode       = "0750"
  depends_on = [resource.command.perfcopy, resource.group.perf]
}

resource "capabilities" "perf" {
  path       = "/opt/fault/perf"
  caps       = ["cap_perfmon"]
  flags      = "ep"
  depends_on = [resource.permissions.perf]
}

resource "command" "slow" {
  run        = "sleep ${var.slow}; touch /opt/fault/slow.done"
  creates    = "/opt/fault/slow.done"
  depends_on = [resource.capabilities.perf, resource.file.f]
}

resource "file" "last" {
  path       = "/opt/fault/last"
  content    = "last\n"
  mode       = "0644"
  depends_on = [resource.command.slow]
}
