# The -ask-become-pass test's spec: root's work, done by bob through sudo with the typed password,
# slow enough for the process lists to be read while sudo runs it (faultHosts' cleanup removes
# /opt/fault).
resource "directory" "d" {
  path = "/opt/fault"
  mode = "0755"
}

resource "command" "slow" {
  run        = "sleep 3; touch /opt/fault/become.done"
  creates    = "/opt/fault/become.done"
  depends_on = [resource.directory.d]
}
