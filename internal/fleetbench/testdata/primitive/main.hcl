resource "group" "g" {
  for_each = toset(["ga", "gb", "gc", "gd"])
  name     = each.key
}

resource "user" "u" {
  for_each = toset(["ua", "ub", "uc", "ud"])
  name     = each.key
  groups   = ["ga"]
  depends_on = [resource.group.g]
}

resource "directory" "opt" {
  path = "/opt/ceo"
  mode = "0755"
}

resource "file" "f" {
  for_each   = toset(["f1", "f2", "f3", "f4", "f5", "f6"])
  path       = "/opt/ceo/${each.key}"
  content    = "hello ${each.key} on ${host.name}\n"
  mode       = "0644"
  depends_on = [resource.directory.opt]
}

resource "command" "perfcopy" {
  creates    = "/opt/ceo/perf"
  run        = "cp /bin/true /opt/ceo/perf"
  depends_on = [resource.directory.opt]
}

resource "permissions" "perf" {
  path       = "/opt/ceo/perf"
  owner      = "root"
  group      = "ga"
  mode       = "0750"
  depends_on = [resource.command.perfcopy, resource.group.g]
}

resource "capabilities" "perf" {
  path       = "/opt/ceo/perf"
  caps       = ["cap_perfmon"]
  flags      = "ep"
  depends_on = [resource.permissions.perf]
}

resource "sysctl" "p" {
  name  = "kernel.perf_event_paranoid"
  value = "2"
}

resource "command" "c" {
  for_each = toset(["c1", "c2", "c3", "c4", "c5"])
  run      = "sleep 0.2; touch /opt/ceo/${each.key}.done"
  creates  = "/opt/ceo/${each.key}.done"
  depends_on = [resource.directory.opt]
}
