# Built-in module perf: a perf binary that can carry file capabilities, at PREFIX/bin/perf.
#
#   from = "source":  tools/perf from a kernel (or perf-only) source tarball, optionally patched,
#                     built lean with make -C tools/perf O=DIR ... install-bin.
#   from = "package": the distribution's perf; the real ELF behind any wrapper script (Ubuntu's
#                     /usr/bin/perf is one) is copied to the prefix, because capabilities cannot sit
#                     on a script and a package upgrade would replace a package-owned file.

variable "from" {
  type        = string
  default     = "package"
  description = "\"source\" to build perf from a kernel source tarball, \"package\" to use the distribution's perf."

  validation {
    condition     = contains(["source", "package"], var.from)
    error_message = "from must be \"source\" or \"package\"."
  }
}

variable "kernel_source_path" {
  type        = string
  default     = null
  description = "from = \"source\": a kernel (or perf-only) source tarball on the controller, relative to the calling spec."
}

variable "kernel_source_url" {
  type        = string
  default     = null
  description = "from = \"source\": a URL of the tarball, downloaded once on the controller (needs kernel_source_sha256)."
}

variable "kernel_source_sha256" {
  type    = string
  default = null
}

variable "patches" {
  type        = list(string)
  default     = []
  description = "from = \"source\": patch files applied in order to the source tree (relative to the calling spec)."
}

variable "prefix" {
  type        = string
  default     = "/opt/perf"
  description = "perf is installed as PREFIX/bin/perf."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.prefix))
    error_message = "prefix must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "build_dir" {
  type    = string
  default = "/var/cache/perfprov/build/perf"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.build_dir))
    error_message = "build_dir must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "make_flags" {
  type        = list(string)
  default     = ["NO_LIBPYTHON=1", "NO_LIBPERL=1", "NO_JVMTI=1", "NO_GTK2=1", "NO_LIBBABELTRACE=1"]
  description = "Extra make variables for a lean perf build."

  validation {
    condition     = length([for f in var.make_flags : f if can(regex("^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9._/,+-]*$", f))]) == length(var.make_flags)
    error_message = "Each make flag must be NAME=VALUE with a plain value (letters, digits and . _ / , + -)."
  }
}

variable "packages" {
  type        = list(string)
  default     = null
  description = "from = \"package\": the packages that provide perf (default: chosen from the host's distribution)."
}

variable "install_build_deps" {
  type    = bool
  default = true
}

locals {
  source  = var.from == "source"
  package = var.from == "package"
  src     = "${var.build_dir}/src"
  out     = "${var.build_dir}/out"
  binary  = "${var.prefix}/bin/perf"

  build_deps = {
    apt    = ["gcc", "make", "flex", "bison", "pkg-config", "libelf-dev", "libdw-dev", "libcap-dev", "xz-utils"]
    dnf    = ["gcc", "make", "flex", "bison", "pkgconf", "elfutils-libelf-devel", "elfutils-devel", "libcap-devel", "xz"]
    yum    = ["gcc", "make", "flex", "bison", "pkgconfig", "elfutils-libelf-devel", "elfutils-devel", "libcap-devel", "xz"]
    zypper = ["gcc", "make", "flex", "bison", "pkg-config", "libelf-devel", "libdw-devel", "libcap-devel", "xz"]
    apk    = ["gcc", "make", "flex", "bison", "pkgconf", "elfutils-dev", "libcap-dev", "linux-headers", "musl-dev", "xz"]
  }
  distro_packages = {
    debian        = ["linux-perf"]
    ubuntu        = ["linux-tools-common", "linux-tools-${host.facts.kernel_release}"]
    fedora        = ["perf"]
    rhel          = ["perf"]
    centos        = ["perf"]
    rocky         = ["perf"]
    alma          = ["perf"]
    alpine        = ["perf"]
    opensuse-leap = ["perf"]
    sles          = ["perf"]
  }
  perf_packages = coalesce(var.packages, lookup(local.distro_packages, host.facts.os_id, ["perf"]))

  # Finds the real perf ELF: through symlinks, and behind a wrapper script (Ubuntu's
  # /usr/bin/perf execs /usr/lib/linux-tools/$(uname -r)/perf). Prints its path or fails.
  find_real_perf = <<-EOT
    p=$(command -v perf) || { echo "perf is not installed" >&2; exit 1; }
    real=$(readlink -f "$p")
    if [ "$(head -c 4 "$real" | od -An -c | tr -d ' ')" != '177ELF' ]; then
      real=$(readlink -f "/usr/lib/linux-tools/$(uname -r)/perf")
      if [ ! -f "$real" ]; then
        real=$(ls -1d /usr/lib/linux-tools-*/perf /usr/lib/linux-tools/*/perf 2>/dev/null | sort -V | tail -n 1)
      fi
    fi
    [ -n "$real" ] && [ "$(head -c 4 "$real" | od -An -c | tr -d ' ')" = '177ELF' ] || { echo "no perf ELF found behind $p" >&2; exit 1; }
  EOT
}

# from = "package"

resource "package" "perf" {
  count = local.package ? 1 : 0
  names = local.perf_packages
}

resource "directory" "bin" {
  path  = "${var.prefix}/bin"
  owner = "root"
  group = "root"
  mode  = "0755"
}

resource "command" "copy_real_perf" {
  count = local.package ? 1 : 0
  # The copy is made 0750 root:root, never world-executable; perf_users then sets its group.
  run        = "${local.find_real_perf}install -m 0750 -o root -g root \"$real\" ${local.binary}.new && mv -f ${local.binary}.new ${local.binary}"
  unless     = "${local.find_real_perf}cmp -s \"$real\" ${local.binary}"
  depends_on = [resource.package.perf, resource.directory.bin]
}

# from = "source"

resource "package" "build_deps" {
  count = local.source && var.install_build_deps ? 1 : 0
  names = lookup(local.build_deps, host.facts.package_manager, local.build_deps["apt"])
}

resource "source" "kernel" {
  count      = local.source ? 1 : 0
  path       = var.kernel_source_path
  url        = var.kernel_source_url
  sha256     = var.kernel_source_sha256
  dest       = local.src
  depends_on = [resource.package.build_deps]
}

resource "patch" "perf" {
  count      = local.source && length(var.patches) > 0 ? 1 : 0
  dir        = local.src
  patches    = var.patches
  depends_on = [resource.source.kernel]
}

resource "build" "perf" {
  count = local.source ? 1 : 0
  dir   = local.src
  commands = [
    "mkdir -p ${local.out}",
    "make -C tools/perf O=${local.out} prefix=${var.prefix} ${join(" ", var.make_flags)} install-bin",
  ]
  artifacts  = [local.binary]
  depends_on = [resource.source.kernel, resource.patch.perf, resource.directory.bin]
}

output "binary" {
  value = local.binary
}

output "prefix" {
  value = var.prefix
}

output "version" {
  description = "From the tarball's name when built from source; from the host's perf --version when packaged."
  value       = local.source ? try(regex("(?:linux-source-|linux-|perf-)([0-9]+[.][0-9]+(?:[.][0-9]+)?)", coalesce(var.kernel_source_path, var.kernel_source_url))[0], "unknown") : host.facts.perf.version
}
