resource "file" "f" {
  path    = "/etc/x"
  content = "x"
  source  = "oneof.hcl" # want: Conflicting arguments
}
