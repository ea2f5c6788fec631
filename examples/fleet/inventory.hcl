# A fleet: hosts in groups, reached as a sudo user through a bastion.

connection {
  user              = "deploy"
  identity_files    = ["~/.ssh/id_ed25519"]
  host_key_checking = "strict"
  become            = "sudo"
  timeout           = "10s"
  keepalive         = "30s"
}

group "web" {
  hosts = ["web1", "web2", "web3"]
  vars  = { role = "web" }
}

group "db" {
  vars = { role = "db" }

  connection {
    jump = ["deploy@bastion.example.net:2222"]
  }
}

group "profiling" {
  hosts = ["web1", "db1"]
}

host "web1" {
  address = "192.0.2.11"
}

host "web2" {
  address = "192.0.2.12"
}

host "web3" {
  address = "192.0.2.13"
}

host "db1" {
  address = "192.0.2.21"
  groups  = ["db"]
}

host "db2" {
  address = "db2.example.net"
  port    = 2222
  groups  = ["db"]
  vars    = { role = "db-replica" }
}
