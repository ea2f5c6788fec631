# The spec of the machine-output test (cliout_test.go): perf set up for a group with primitive
# resources, a benchmark, and a command that fails on the host var.bad names (the file after it is
# then skipped), so that one run shows every kind of line and outcome.
variable "bad" {
  type    = string
  default = ""
}

resource "group" "perf" {
  name = "cliout_perf"
}

resource "user" "member" {
  name   = "cliout"
  groups = [resource.group.perf.name]
}

resource "directory" "bin" {
  path = "/opt/cliout"
  mode = "0755"
}

resource "command" "copy_perf" {
  run        = "install -m 0750 -o root -g root \"$(readlink -f \"$(command -v perf)\")\" /opt/cliout/perf"
  creates    = "/opt/cliout/perf"
  depends_on = [resource.directory.bin]
}

resource "permissions" "perf" {
  path       = "/opt/cliout/perf"
  owner      = "root"
  group      = resource.group.perf.name
  mode       = "0750"
  depends_on = [resource.command.copy_perf]
}

resource "capabilities" "perf" {
  path = resource.permissions.perf.path
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"]
}

resource "sysctl" "paranoid" {
  name  = "kernel.perf_event_paranoid"
  value = "2"
}

resource "command" "probe" {
  run        = host.name == var.bad ? "echo no probe on this host >&2; exit 3" : "touch /opt/cliout/probe"
  creates    = "/opt/cliout/probe"
  depends_on = [resource.directory.bin]
}

resource "file" "after_probe" {
  path       = "/opt/cliout/after-probe"
  content    = "the probe ran on ${host.name}\n"
  mode       = "0644"
  depends_on = [resource.command.probe]
}

benchmark "counters" {
  run_as = resource.user.member.name
  perf   = "/opt/cliout/perf"
}
