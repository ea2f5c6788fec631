group "web" {
  hosts = ["web1", "wbe2"] # want: Undeclared host
}

host "web1" {
  address = "10.0.0.1"
  groups  = ["web", "dbs"] # want: Undeclared group
}

resource "group" "g" {
  hosts = ["web", "web3"] # want: Unknown host or group
}
