host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

resource "build" "perf" {
  dir      = "/usr/src/perf"
  commands = ["make"]
  env      = { "A B" = "1" }
}
