# Built-in module perf_users: unprivileged perf monitoring as the kernel's perf-security guide
# describes it. A group whose members may profile; the perf binary owned root:GROUP with mode
# 0750 FIRST (chown/chgrp after setcap would erase the capabilities); kernel.perf_event_paranoid
# at runtime and persisted in a drop-in that sorts after the distribution's own files; file
# capabilities LAST among the changes to the binary; then a check that the whole thing works.
#
# The check (command.verify) runs in every plan and apply, as part of the host's one batched
# read: a member (never root) starts perf stat -a, perf's /proc/PID/status must show exactly the
# expected CapEff, and a non-member must be refused. When it fails, plan shows the check as a
# change; apply repairs what the resources before it found different (caps removed, mode
# widened, group changed, paranoid raised) and runs the check again, which fails the host with
# the reason if the setup still does not work.

variable "group" {
  type        = string
  default     = "perf_users"
  description = "The group whose members may run perf with capabilities."

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.group))
    error_message = "group must be a valid group name: lowercase letters, digits, '_' and '-', starting with a letter or '_'."
  }
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
  description = "The perf ELF binary to restrict and give capabilities (never a wrapper script or a package-managed path), such as module.perf.binary."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/+-]+$", var.perf))
    error_message = "perf must be an absolute path made of letters, digits, '.', '_', '+', '-' and '/'."
  }
}

variable "setcap" {
  type        = string
  default     = "setcap"
  description = "The setcap to use, such as module.libcap.setcap for a freshly built libcap (default: the system's, installed from the distribution's package when the host has none)."
}

variable "setcap_packages" {
  type        = list(string)
  default     = null
  description = "The packages that carry setcap, installed when setcap is the system's (\"setcap\") and the host has none (default: by distribution family: libcap2-bin on Debian and Ubuntu, libcap on Fedora/RHEL, Alpine and Arch, libcap-progs on SUSE)."
}

variable "extra_caps" {
  type        = list(string)
  default     = []
  description = "Capabilities added to the set, such as [\"cap_ipc_lock\"] for perf top's ring buffers."

  validation {
    condition     = length([for c in var.extra_caps : c if can(regex("^(cap_[a-z_]+|[0-9]{1,2})$", c))]) == length(var.extra_caps)
    error_message = "Each extra capability must be a lowercase name such as \"cap_ipc_lock\" or a number such as \"14\"."
  }
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

variable "mlock_kb" {
  type        = number
  default     = null
  description = "kernel.perf_event_mlock_kb, the per-user allowance for perf's ring buffers, in KiB per CPU (the kernel's default is 516): raise it for members' perf record and perf top; null leaves the kernel's value alone. Persisted in persist_file with paranoid."

  validation {
    condition     = var.mlock_kb == null ? true : (var.mlock_kb >= 0 && var.mlock_kb <= 2147483647 && floor(var.mlock_kb) == var.mlock_kb)
    error_message = "mlock_kb must be a whole number of KiB from 0 to 2147483647, or null to leave the kernel's value."
  }
}

variable "persist_file" {
  type        = string
  default     = "/etc/sysctl.d/99-zz-perf-security.conf"
  description = "The sysctl drop-in; its name must sort after the distribution's files (Debian's 99-sysctl.conf)."
}

variable "verify" {
  type        = bool
  default     = true
  description = "Check on every plan and apply that a member's perf runs with exactly the expected capabilities and a non-member is refused."
}

variable "verify_as" {
  type        = string
  default     = null
  description = "The member the check runs perf as (default: the first of members; with no members, only the non-member is checked)."
}

variable "non_member" {
  type        = string
  default     = "nobody"
  description = "A user outside the group whose exec of perf must be refused (\"\" skips that check)."

  validation {
    condition     = can(regex("^([a-z_][a-z0-9_-]{0,31})?$", var.non_member))
    error_message = "non_member must be a valid user name, or \"\"."
  }
}

variable "file_caps" {
  type        = bool
  default     = true
  description = "Give the perf binary file capabilities. false: only the perf shell gives members the capabilities (hosts where file capabilities cannot work: nosuid, no xattrs); the check then only tests that non-members are refused."
}

variable "perf_shell" {
  type        = bool
  default     = false
  description = "Also install the guide's capabilities-enabled shell (sudo perf-shell) for hosts where file capabilities cannot work."
}

variable "perf_shell_path" {
  type        = string
  default     = "/usr/local/sbin/perf-shell"
  description = "Where the perf shell is installed; members run it with sudo."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.perf_shell_path))
    error_message = "perf_shell_path must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "capsh" {
  type        = string
  default     = "/usr/sbin/capsh"
  description = "The capsh the perf shell runs, such as module.libcap.capsh."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.capsh))
    error_message = "capsh must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "state_dir" {
  type        = string
  default     = "/var/lib/perfprov/perf_users"
  description = "Where the module keeps its check script on the host."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.state_dir))
    error_message = "state_dir must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

locals {
  # Kernels with CAP_PERFMON (Linux 5.8, cap_last_cap >= 38) get the narrow set; older ones need
  # cap_sys_admin, which is far broader.
  perfmon = host.facts.cap_last_cap >= 38
  caps = distinct(concat(
    local.perfmon ? ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"] : ["cap_sys_admin", "cap_sys_ptrace", "cap_syslog"],
    var.extra_caps,
  ))
  cap_numbers = {
    cap_chown              = 0
    cap_dac_override       = 1
    cap_dac_read_search    = 2
    cap_fowner             = 3
    cap_fsetid             = 4
    cap_kill               = 5
    cap_setgid             = 6
    cap_setuid             = 7
    cap_setpcap            = 8
    cap_linux_immutable    = 9
    cap_net_bind_service   = 10
    cap_net_broadcast      = 11
    cap_net_admin          = 12
    cap_net_raw            = 13
    cap_ipc_lock           = 14
    cap_ipc_owner          = 15
    cap_sys_module         = 16
    cap_sys_rawio          = 17
    cap_sys_chroot         = 18
    cap_sys_ptrace         = 19
    cap_sys_pacct          = 20
    cap_sys_admin          = 21
    cap_sys_boot           = 22
    cap_sys_nice           = 23
    cap_sys_resource       = 24
    cap_sys_time           = 25
    cap_sys_tty_config     = 26
    cap_mknod              = 27
    cap_lease              = 28
    cap_audit_write        = 29
    cap_audit_control      = 30
    cap_setfcap            = 31
    cap_mac_override       = 32
    cap_mac_admin          = 33
    cap_syslog             = 34
    cap_wake_alarm         = 35
    cap_block_suspend      = 36
    cap_audit_read         = 37
    cap_perfmon            = 38
    cap_bpf                = 39
    cap_checkpoint_restore = 40
  }
  cap_bits = [for c in local.caps : can(tonumber(c)) ? tonumber(c) : lookup(local.cap_numbers, c, -1)]
  member   = var.verify_as != null ? var.verify_as : (length(var.members) > 0 ? var.members[0] : "")
  check    = "${var.state_dir}/check-${var.group}.sh"
  # Debian and Ubuntu kernels make perf_event_open need CAP_SYS_ADMIN when paranoid > 2, whatever
  # CAP_PERFMON says. Unknown (older facts): assume the patch, as the facts do.
  paranoid_blocks = var.paranoid > 2 && try(host.facts.distro_paranoid_patch, true)

  # setcap from the distribution, when the system's is to be used and the host has none. By
  # family (host.facts.os_family), so that derivatives get their parent's package. Alpine's libcap
  # holds the tools up to 2.64-r0 and since then depends on libcap-utils (capsh, getpcaps), which
  # depends on libcap-setcap and libcap-getcap: the one name that works on every release.
  setcap_by_family = {
    debian = ["libcap2-bin"]
    ubuntu = ["libcap2-bin"]
    fedora = ["libcap"]
    suse   = ["libcap-progs"]
    alpine = ["libcap"]
    arch   = ["libcap"]
  }
  install_setcap  = var.file_caps && var.setcap == "setcap" && host.facts.libcap.setcap_path == ""
  setcap_packages = var.setcap_packages != null ? var.setcap_packages : lookup(local.setcap_by_family, host.facts.os_family, [])
}

resource "group" "perf_users" {
  name = var.group
}

resource "user" "members" {
  for_each = toset(var.members)
  name     = each.key
  groups   = [resource.group.perf_users.name]
}

# Refuses a perf that is not an ELF binary (a wrapper script such as Ubuntu's /usr/bin/perf)
# before its owner or mode is touched: file capabilities do nothing on a script. A perf that a
# build or copy is about to create passes here and is checked again by the capabilities.
resource "command" "perf_must_be_elf" {
  unless = "[ ! -e ${shellquote(var.perf)} ] || [ \"$(od -An -c -N4 -- ${shellquote(var.perf)} | tr -d ' ')\" = '177ELF' ]"
  run    = "echo ${shellquote("${var.perf} is not an ELF binary (a wrapper script?): file capabilities do nothing on scripts; give perf_users the real perf, such as module.perf.binary (the perf module copies the ELF behind a wrapper)")} >&2; exit 1"
}

resource "permissions" "perf" {
  path       = var.perf
  owner      = "root"
  group      = resource.group.perf_users.name
  mode       = "0750"
  depends_on = [resource.command.perf_must_be_elf]
}

# A note that fails the host: with this paranoid value the kernel ignores CAP_PERFMON.
resource "command" "paranoid_blocks_cap_perfmon" {
  count = local.paranoid_blocks ? 1 : 0
  run   = "echo 'paranoid ${var.paranoid} voids CAP_PERFMON on this kernel: set paranoid = 2 or lower in the perf_users module (Debian/Ubuntu kernels carry a patch that makes perf_event_open need CAP_SYS_ADMIN whenever kernel.perf_event_paranoid is above 2, whatever CAP_PERFMON says)' >&2; exit 1"
}

resource "sysctl" "paranoid" {
  name         = "kernel.perf_event_paranoid"
  value        = tostring(var.paranoid)
  persist_file = var.persist_file
  depends_on   = [resource.command.paranoid_blocks_cap_perfmon]
}

# The members' ring buffer allowance (perf-security guide: "perf_event_mlock_kb"), in the same
# drop-in: each sysctl resource edits only its own key's line.
resource "sysctl" "mlock_kb" {
  count        = var.mlock_kb != null ? 1 : 0
  name         = "kernel.perf_event_mlock_kb"
  value        = tostring(var.mlock_kb)
  persist_file = var.persist_file
}

# A note that plan shows (as unchanged) on kernels without CAP_PERFMON: the broad set is used.
resource "command" "warning_kernel_lacks_cap_perfmon_using_cap_sys_admin" {
  count  = local.perfmon ? 0 : 1
  run    = "true"
  unless = "true"
}

# setcap is missing and no built one is given: the distribution's package that carries it.
resource "package" "setcap" {
  count = local.install_setcap && length(local.setcap_packages) > 0 ? 1 : 0
  names = local.setcap_packages
}

# A note that fails the host: setcap is missing and perfprov does not know the family's package.
resource "command" "setcap_missing" {
  count = local.install_setcap && length(local.setcap_packages) == 0 ? 1 : 0
  run   = "echo ${shellquote("setcap is missing on this host and perfprov does not know which package carries it on ${host.facts.os_id} (os_family \"${host.facts.os_family}\"): set setcap_packages in the perf_users module, or build libcap with the libcap module and give setcap = module.libcap.setcap")} >&2; exit 1"
}

resource "capabilities" "perf" {
  count      = var.file_caps ? 1 : 0
  path       = resource.permissions.perf.path
  caps       = local.caps
  flags      = "ep"
  setcap     = var.setcap
  depends_on = [resource.sysctl.paranoid, resource.user.members, resource.package.setcap, resource.command.setcap_missing]
}

resource "directory" "state" {
  count = var.verify ? 1 : 0
  path  = var.state_dir
  owner = "root"
  group = "root"
  mode  = "0755"
}

resource "file" "check" {
  count = var.verify ? 1 : 0
  path  = local.check
  content = templatefile("check.sh.tpl", {
    perf       = var.perf
    group      = var.group
    member     = var.file_caps ? local.member : ""
    non_member = var.non_member
    bits       = join(" ", [for b in local.cap_bits : tostring(b)])
    want_names = join(",", local.caps)
  })
  owner      = "root"
  group      = "root"
  mode       = "0700"
  depends_on = [resource.directory.state]
}

# The end-to-end check: in sync while it passes; after the repairs above, apply runs it again.
resource "command" "verify" {
  count      = var.verify ? 1 : 0
  unless     = "if [ -x ${shellquote(local.check)} ]; then ${shellquote(local.check)} -q; else echo 'not checked yet: the check is installed by this apply'; exit 1; fi"
  run        = shellquote(local.check)
  timeout    = "2m"
  depends_on = [resource.capabilities.perf, resource.file.check]
}

# The perf shell (optional): a root-owned script that members may run through sudo, with no
# arguments; it checks membership again and starts the member's login shell with the perf
# capabilities in its ambient set (capsh --addamb), as the perf-security guide describes.
resource "file" "perf_shell" {
  count = var.perf_shell ? 1 : 0
  path  = var.perf_shell_path
  content = templatefile("perf-shell.sh.tpl", {
    group = var.group
    path  = var.perf_shell_path
    capsh = var.capsh
    caps  = join(",", local.caps)
  })
  owner = "root"
  group = "root"
  mode  = "0755"
}

resource "directory" "sudoers_d" {
  count = var.perf_shell ? 1 : 0
  path  = "/etc/sudoers.d"
}

# "" after the command: sudo accepts it only without arguments. NOPASSWD: it grants members no
# more than file capabilities on perf would, which need no password either.
resource "file" "perf_shell_sudoers" {
  count      = var.perf_shell ? 1 : 0
  path       = "/etc/sudoers.d/perfprov-perf-shell-${var.group}"
  content    = "# Written by perfprov (builtin/perf_users): members of ${var.group} may start the perf shell.\n%${var.group} ALL=(root) NOPASSWD: ${var.perf_shell_path} \"\"\n"
  owner      = "root"
  group      = "root"
  mode       = "0440"
  depends_on = [resource.file.perf_shell, resource.directory.sudoers_d, resource.group.perf_users]
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
