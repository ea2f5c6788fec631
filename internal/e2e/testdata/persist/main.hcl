# One file per host: enough for a run that changes a host, and one that does not.
variable "stamp" {
  type    = string
  default = "one"
}

resource "file" "stamp" {
  path    = "/etc/perfprov-persist-test"
  content = "${var.stamp}\n"
  mode    = "0644"
}
