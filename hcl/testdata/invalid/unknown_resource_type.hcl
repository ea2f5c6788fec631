resource "fiel" "motd" { # want: Unknown resource type
  path = "/etc/motd"
}
