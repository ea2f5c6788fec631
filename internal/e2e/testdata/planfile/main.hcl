# The saved-plan test (TestSavedPlan): a group, a directory of it, and a file whose content is a
# sensitive variable, which the plan file must not hold.
variable "token" {
  type      = string
  sensitive = true
}

variable "mode" {
  type    = string
  default = "0750"
}

resource "group" "pf" {
  name = "ppplan"
}

resource "directory" "pf" {
  path       = "/opt/ppplan"
  group      = "ppplan"
  mode       = var.mode
  depends_on = [resource.group.pf]
}

resource "file" "token" {
  path       = "/opt/ppplan/token"
  content    = var.token
  mode       = "0600"
  depends_on = [resource.directory.pf]
}
