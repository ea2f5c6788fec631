host "a" {
  address = "10.0.0.1"
  prot    = 22 # want: Unsupported argument
}

resource "file" "motd" {
  path    = "/etc/motd"
  content = "hello"
  onwer   = "root" # want: Unsupported argument
}
