host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

resource "sysctl" "paranoid" {
  name         = "kernel.perf_event_paranoid"
  value        = "2"
  persist_file = "/etc/sysctl.d/99-perf.txt"
}
