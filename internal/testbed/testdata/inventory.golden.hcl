# Written by testbed: a lab of local hosts. Lab-only credentials.
connection {
  user              = "root"
  identity_files    = ["/labs/demo/id_ed25519"]
  known_hosts       = "/labs/demo/known_hosts"
  host_key_checking = "strict"
}

host "lab1" {
  address = "127.0.10.1"
}

host "lab2" {
  address = "127.0.10.2"
}

host "odd" {
  address = "127.0.10.3"
  port    = 2222
}
