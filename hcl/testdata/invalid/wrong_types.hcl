host "a" {
  address = "10.0.0.1"
  port    = "ssh" # want: Incorrect attribute value type
}

resource "group" "g" {
  system = "maybe" # want: Incorrect attribute value type
}

resource "capabilities" "perf" {
  path = "/opt/perf/bin/perf"
  caps = "cap_perfmon" # want: Incorrect attribute value type
}

resource "file" "f" {
  path    = "/etc/x"
  content = "x"
  mode    = 644 # want: Invalid value for mode
}
