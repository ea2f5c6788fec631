host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

resource "sysctl" "paranoid" {
  name  = "kernel.perf_event_paranoid"
  value = "2\nkernel.kptr_restrict = 0"
}
