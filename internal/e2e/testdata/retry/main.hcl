# The retry test's spec: one file per host that names it (faultHosts' cleanup removes /opt/fault).
resource "directory" "d" {
  path = "/opt/fault"
  mode = "0755"
}

resource "file" "stamp" {
  path       = "/opt/fault/retry"
  content    = "${host.name}\n"
  mode       = "0644"
  depends_on = [resource.directory.d]
}
