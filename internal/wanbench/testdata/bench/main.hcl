# perfprov bench in the WAN benchmark: the distribution's perf for alice, a member of the perf
# group, and the counter benchmark she runs. The benchmark applies it once before measuring.

module "perf" {
  source = "builtin/perf"
  from   = "package"
}

module "perf_users" {
  source  = "builtin/perf_users"
  members = ["alice"]
  perf    = module.perf.binary
}

benchmark "counters" {
  run_as    = "alice"
  perf      = module.perf.binary
  tolerance = "1%"
}
