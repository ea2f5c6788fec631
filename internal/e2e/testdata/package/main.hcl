# The distribution's perf for perf_users members, as examples/fleet does it, with the prefix, the
# binary perf_users restricts and the perf shell as variables for the tests' error cases.

variable "prefix" {
  type    = string
  default = "/opt/perf"
}

variable "perf" {
  type        = string
  default     = null
  description = "What perf_users restricts (default: the perf module's copy of the real ELF)."
}

variable "file_caps" {
  type    = bool
  default = true
}

module "perf" {
  source            = "builtin/perf"
  from              = "package"
  prefix            = var.prefix
  require_file_caps = var.file_caps
}

module "perf_users" {
  source     = "builtin/perf_users"
  members    = ["alice"]
  perf       = var.perf != null ? var.perf : module.perf.binary
  file_caps  = var.file_caps
  perf_shell = !var.file_caps
}
