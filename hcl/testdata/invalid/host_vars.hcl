host "a" {
  address = "10.0.0.1"
  vars    = { role = "web" }
}

host "b" {
  address = "10.0.0.2"
}

resource "file" "f" {
  path    = "/etc/role"
  content = host.vars.role # want: Unsupported attribute
}
