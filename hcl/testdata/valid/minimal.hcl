host "here" {
  connection {
    type = "local"
  }
}

resource "group" "perf_users" {}
