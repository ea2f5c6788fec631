connection {
  user           = "deploy"
  identity_files = ["keys/id_ed25519"]
  timeout        = "15s"
}

group "web" {
  hosts = ["web1"]
  vars  = { role = "web", tier = 1 }

  connection {
    port = 2200
  }
}

group "eu" {
  vars = { region = "eu", tier = 2 }

  connection {
    user = "eu-admin"
  }
}

host "web1" {
  address = "192.0.2.1"
  groups  = ["eu"]
  vars    = { tier = 3 }
}

host "db1" {
  address = "db1.example.net"
  user    = "dba"

  connection {
    jump              = ["bastion.example.net", "ops@192.0.2.99:2222"]
    host_key_checking = "accept-new"
  }
}

rollout {
  parallel            = 5
  batch               = "50%"
  max_fail_percentage = 10
}
