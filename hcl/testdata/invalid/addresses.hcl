host "a" {
  address = "10.0.0.300" # want: Invalid address
}

host "b" {
  address = "b.example.net:22" # want: Invalid address
}

host "c" {
  address = "10.0.0.3"
  port    = 70000 # want: Invalid port
}

host "d" {
  address = "bad host" # want: Invalid address
}

connection {
  port = 0 # want: Invalid port
}
