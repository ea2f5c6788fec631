host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

# Only web2 gets the bad name: the diagnostic names it.
resource "sysctl" "per_host" {
  name  = host.name == "web2" ? "kernel..x" : "kernel.x"
  value = "1"
}
