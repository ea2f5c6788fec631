variable "prefix" {
  default = "/opt"
}

locals {
  dir = "${var.prefx}/perf" # want: Reference to undeclared input variable
}

resource "directory" "d" {
  path = local.dri # want: Reference to undeclared local value
}

resource "file" "f" {
  path    = "${resource.directory.dd.path}/x" # want: Reference to undeclared resource
  content = resource.directory.d.pth # want: Unsupported attribute
}

resource "command" "c" {
  run = "echo ${module.perf.binary}" # want: Reference to undeclared module
}

resource "command" "d" {
  run = "echo ${vra.prefix}" # want: Unknown variable
}

resource "command" "e" {
  run = "echo ${host.nmae}" # want: Unsupported attribute
}

resource "command" "f" {
  run = "echo ${each.key}" # want: Reference to each outside for_each
}
