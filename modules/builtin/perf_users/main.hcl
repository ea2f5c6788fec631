# Built-in module perf_users: unprivileged perf monitoring as the kernel's perf-security guide
# describes it. A group whose members may profile; the perf binary owned root:GROUP with mode
# 0750 FIRST (chown/chgrp after setcap would erase the capabilities); file capabilities LAST;
# kernel.perf_event_paranoid at runtime and persisted in a drop-in that sorts after the
# distribution's own files.

variable "group" {
  type        = string
  default     = "perf_users"
  description = "The group whose members may run perf with capabilities."
}

variable "members" {
  type        = list(string)
  default     = []
  description = "Users to create if missing and add to the group (their other groups are kept)."

  validation {
    condition     = length([for m in var.members : m if can(regex("^[a-z_][a-z0-9_-]{0,31}$", m))]) == length(var.members)
    error_message = "Each member must be a valid user name: lowercase letters, digits, '_' and '-', starting with a letter or '_'."
  }
}

variable "perf" {
  type        = string
  default     = "/opt/perf/bin/perf"
  description = "The perf ELF binary to restrict and give capabilities (never a wrapper script or a package-managed path)."
}

variable "setcap" {
  type        = string
  default     = "setcap"
  description = "The setcap to use, such as module.libcap.setcap for a freshly built libcap."
}

variable "extra_caps" {
  type        = list(string)
  default     = []
  description = "Capabilities added to the set, such as [\"cap_ipc_lock\"] for perf top's ring buffers."
}

variable "paranoid" {
  type        = number
  default     = 2
  description = "kernel.perf_event_paranoid; above 2, Debian and Ubuntu kernels ignore CAP_PERFMON."

  validation {
    condition     = var.paranoid >= -1 && var.paranoid <= 4 && floor(var.paranoid) == var.paranoid
    error_message = "paranoid must be a whole number from -1 to 4 (2 is the upstream default and keeps CAP_PERFMON effective)."
  }
}

variable "persist_file" {
  type        = string
  default     = "/etc/sysctl.d/99-zz-perf-security.conf"
  description = "The sysctl drop-in; its name must sort after the distribution's files (Debian's 99-sysctl.conf)."
}

locals {
  # Kernels with CAP_PERFMON (Linux 5.8, cap_last_cap >= 38) get the narrow set; older ones need
  # cap_sys_admin, which is far broader.
  perfmon = host.facts.cap_last_cap >= 38
  caps = concat(
    local.perfmon ? ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"] : ["cap_sys_admin", "cap_sys_ptrace", "cap_syslog"],
    var.extra_caps,
  )
}

resource "group" "perf_users" {
  name = var.group
}

resource "user" "members" {
  for_each = toset(var.members)
  name     = each.key
  groups   = [resource.group.perf_users.name]
}

resource "permissions" "perf" {
  path  = var.perf
  owner = "root"
  group = resource.group.perf_users.name
  mode  = "0750"
}

resource "sysctl" "paranoid" {
  name         = "kernel.perf_event_paranoid"
  value        = tostring(var.paranoid)
  persist_file = var.persist_file
}

resource "capabilities" "perf" {
  path       = resource.permissions.perf.path
  caps       = local.caps
  flags      = "ep"
  setcap     = var.setcap
  depends_on = [resource.sysctl.paranoid, resource.user.members]
}

output "group" {
  value = resource.group.perf_users.name
}

output "perf" {
  value = var.perf
}

output "caps" {
  value = local.caps
}

output "members" {
  value = var.members
}
