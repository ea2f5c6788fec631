connection {
  user = "deploy"
}

host "web1" {
  address = "192.0.2.11"
}

resource "group" "perf_users" {
}
