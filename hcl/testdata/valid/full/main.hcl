variable "members" {
  type        = list(string)
  default     = ["alice", "bob"]
  description = "Who may profile."

  validation {
    condition     = length(var.members) > 0
    error_message = "List at least one member."
  }
}

variable "dirs" {
  type = map(string)
  default = {
    cache = "/var/cache/app"
    logs  = "/var/log/app"
  }
}

variable "token" {
  type      = string
  default   = "s3cr3t-token"
  sensitive = true
}

variable "settings" {
  type = object({
    paranoid = number
    persist  = optional(bool, true)
  })
  default = { paranoid = 2 }
}

locals {
  motd      = templatefile("templates/motd.tpl", { members = var.members })
  motd_hash = sha256(local.motd)
  banner    = trimspace(file("files/banner.txt"))
  banner_id = filesha256("files/banner.txt")
  role      = try(host.vars.role, "none")
  ok        = can(regex("^[a-z]+$", "abc"))
}

module "grp" {
  source = "./mod"
  name   = "perf_users"
  hosts  = ["web"]
}

resource "user" "members" {
  for_each = toset(var.members)
  hosts    = ["web"]
  groups   = [module.grp.group]
  name     = each.value
}

resource "directory" "dirs" {
  for_each = var.dirs
  path     = each.value
  mode     = "0750"
}

resource "file" "motd" {
  path    = "/etc/motd"
  content = "${local.motd}${local.banner} (${local.role}, ${local.motd_hash})\n"
}

resource "command" "warm" {
  count      = 2
  run        = "echo ${count.index} ${upper(host.name)}"
  depends_on = [resource.file.motd]
}

resource "command" "token" {
  run    = "use-token ${var.token}"
  unless = "test -f ${resource.directory.dirs["cache"].path}/token"
}

resource "sysctl" "paranoid" {
  name  = "kernel.perf_event_paranoid"
  value = var.settings.paranoid
}

resource "capabilities" "perf" {
  path       = "/opt/perf/bin/perf"
  caps       = host.facts.cap_last_cap >= 38 ? ["cap_perfmon", "cap_syslog"] : ["cap_sys_admin", "cap_syslog"]
  depends_on = [module.grp, resource.sysctl.paranoid]
}

benchmark "counters" {
  hosts                     = ["web1"]
  run_as                    = var.members[0]
  perf                      = resource.capabilities.perf.path
  events                    = ["cycles", "instructions"]
  require_hardware_counters = true
  tolerance                 = "2%"
  repeat                    = 2
}

output "checks" {
  value = local.ok && local.banner_id != ""
}
