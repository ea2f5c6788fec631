resource "file" "f" {
  path    = "etc/x" # want: Invalid value for path
  content = "x"
}

resource "capabilities" "c" {
  path  = "/opt/perf/bin/perf"
  caps  = ["CAP_PERFMON"] # want: Invalid value for caps
  flags = "+ep" # want: Invalid value for flags
}

resource "user" "u" {
  name = "Bad User" # want: Invalid value for name
}

resource "package" "p" {
  names   = ["gcc"]
  manager = "apt-get" # want: Invalid value for manager
}

resource "patch" "p" {
  dir     = "/usr/src/x"
  patches = ["missing.patch"] # want: Invalid value for patches
}

resource "command" "c" {
  run     = "true"
  timeout = "forever" # want: Invalid value for timeout
}
