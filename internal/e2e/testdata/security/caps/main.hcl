# Capabilities on a binary under /srv/perfx, which the test hands to alice or to root: perfprov
# must refuse the host whenever a user other than root could swap the binary.
variable "fail_after" {
  type    = bool
  default = false
}

resource "permissions" "tool" {
  path  = "/srv/perfx/tool"
  owner = "root"
  group = "root"
  mode  = "0750"
}

resource "capabilities" "tool" {
  path = resource.permissions.tool.path
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"]
}

# A check after setcap that fails: the capabilities must be removed again.
resource "command" "check" {
  count      = var.fail_after ? 1 : 0
  run        = "echo 'the end-to-end check failed' >&2; exit 1"
  depends_on = [resource.capabilities.tool]
}
