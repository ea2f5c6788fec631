# The no-op apply of the scale benchmarks (issue 13): the perf_users job in small, as
# provision/engine's BenchmarkNoopApply. perf.elf is copied in from /usr/bin/true by the benchmark.
resource "group" "perf_users" {}

resource "user" "alice" {
  groups = [resource.group.perf_users.name]
}

resource "user" "bob" {
  groups = [resource.group.perf_users.name]
}

resource "directory" "bin" {
  path = "/opt/bench/bin"
  mode = "0755"
}

resource "file" "perf" {
  path   = "${resource.directory.bin.path}/perf"
  source = "perf.elf"
  group  = resource.group.perf_users.name
  mode   = "0750"
}

resource "permissions" "perf" {
  path  = resource.file.perf.path
  group = resource.group.perf_users.name
  mode  = "0750"
}

resource "capabilities" "perf" {
  path = resource.permissions.perf.path
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"]
}

resource "sysctl" "paranoid_stand_in" {
  name  = "kernel.domainname"
  value = "bench.perfprov"
}
