# The host to set up. Replace this file with your own inventory (the lab writes one).

connection {
  user              = "root"
  host_key_checking = "strict"
}

host "lab1" {
  address = "127.0.10.1"
}
