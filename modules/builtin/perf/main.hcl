# Built-in module perf: a perf binary that can carry file capabilities, at PREFIX/bin/perf.
#
#   from = "source":  tools/perf from a kernel (or perf-only) source tarball, optionally patched,
#                     built lean with make -C tools/perf O=DIR ... install-bin. The pristine
#                     source is copied to a fresh work tree, patched, built and installed into a
#                     staging directory; only a build that succeeded is copied over PREFIX, so a
#                     patch that does not apply or a failed build leaves the installed perf as it
#                     was. The build's stamp digests the tarball, each patch and the make command:
#                     an unchanged spec rebuilds nothing.
#   from = "package": the distribution's perf; the real ELF behind any wrapper script (Ubuntu's
#                     /usr/bin/perf is one) is copied to the prefix, because capabilities cannot
#                     sit on a script and a package upgrade would replace a package-owned file
#                     (the copy is refreshed when the package's ELF changes).
#
# Both first check that PREFIX can hold working file capabilities (not nosuid, not noexec, a
# filesystem with extended attributes) and refuse it otherwise, proposing another prefix.

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
  type        = string
  default     = null
  description = "The sha256 of the tarball at kernel_source_url."
}

variable "patches" {
  type        = list(string)
  default     = []
  description = "from = \"source\": patch files applied in order to a fresh copy of the source tree (relative to the calling spec)."
}

variable "patch_strip" {
  type        = number
  default     = 1
  description = "Leading path components patch strips (patch -pN); 1 for patches made at the kernel tree's root."
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
  type        = string
  default     = "/var/cache/perfprov/build/perf"
  description = "Where the source is unpacked and built on the host (the build needs about 400 MB while it runs)."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.build_dir))
    error_message = "build_dir must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "make_flags" {
  type = list(string)
  default = [
    "NO_LIBPYTHON=1", "NO_LIBPERL=1", "NO_JVMTI=1", "NO_SLANG=1", "NO_LIBNUMA=1", "NO_LIBUNWIND=1",
    "NO_LIBBABELTRACE=1", "NO_LIBZSTD=1", "NO_LIBDEBUGINFOD=1", "NO_LIBCRYPTO=1", "NO_LIBBFD=1",
    "NO_DEMANGLE=1", "NO_SDT=1", "NO_LIBAUDIT=1", "NO_LIBBPF=1",
  ]
  description = "Make variables of the perf build. The default is a lean build that does not depend on which optional -dev packages a host happens to have (it keeps libelf, libdw, libcap, zlib, lzma)."

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
  type        = bool
  default     = true
  description = "from = \"source\": install the compiler, flex, bison, libelf/libdw/libcap headers... from the distribution's packages."
}

variable "require_file_caps" {
  type        = bool
  default     = true
  description = "Refuse a prefix where file capabilities cannot work (nosuid, noexec, no extended attributes)."
}

variable "state_dir" {
  type        = string
  default     = "/var/lib/perfprov/perf"
  description = "Where the module keeps its helper script on the host."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.state_dir))
    error_message = "state_dir must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

locals {
  source  = var.from == "source"
  package = var.from == "package"
  src     = "${var.build_dir}/src"
  work    = "${var.build_dir}/work"
  out     = "${var.build_dir}/out"
  stage   = "${var.build_dir}/stage"
  binary  = "${var.prefix}/bin/perf"
  helper  = "${var.state_dir}/helper.sh"

  patch_files = [for i, p in var.patches : "${var.build_dir}/patches/${format("%02d", i)}.patch"]

  build_deps = {
    apt    = ["gcc", "make", "patch", "flex", "bison", "python3", "pkg-config", "libelf-dev", "libdw-dev", "libcap-dev", "xz-utils"]
    dnf    = ["gcc", "make", "patch", "flex", "bison", "python3", "pkgconf", "elfutils-libelf-devel", "elfutils-devel", "libcap-devel", "xz"]
    yum    = ["gcc", "make", "patch", "flex", "bison", "python3", "pkgconfig", "elfutils-libelf-devel", "elfutils-devel", "libcap-devel", "xz"]
    zypper = ["gcc", "make", "patch", "flex", "bison", "python3", "pkg-config", "libelf-devel", "libdw-devel", "libcap-devel", "xz"]
    apk    = ["gcc", "make", "patch", "flex", "bison", "python3", "pkgconf", "elfutils-dev", "libcap-dev", "linux-headers", "musl-dev", "xz"]
    pacman = ["gcc", "make", "patch", "flex", "bison", "python", "pkgconf", "libelf", "libcap", "linux-api-headers", "xz"]
  }
  # By distribution family (host.facts.os_family: the os-release ID, else the first ID_LIKE
  # perfprov knows), so that Rocky, Alma, Oracle Linux, Linux Mint, Pop!_OS, Raspberry Pi OS or
  # Manjaro get their parent's package names.
  distro_packages = {
    debian = ["linux-perf"]
    ubuntu = ["linux-tools-common", "linux-tools-${host.facts.kernel_release}"]
    fedora = ["perf"]
    suse   = ["perf"]
    alpine = ["perf"]
    arch   = ["perf"]
  }
  perf_packages = coalesce(var.packages, lookup(local.distro_packages, host.facts.os_family, ["perf"]))
}

resource "directory" "state" {
  path  = var.state_dir
  owner = "root"
  group = "root"
  mode  = "0755"
}

resource "file" "helper" {
  path       = local.helper
  content    = file("helper.sh")
  owner      = "root"
  group      = "root"
  mode       = "0755"
  depends_on = [resource.directory.state]
}

# Refuses a prefix where capabilities cannot work before anything is built or copied there.
# It comes after file.helper by declaration order, not by depends_on: a dependency's fingerprint
# is part of build.perf's stamp (through source.kernel), and a new version of the helper script
# must not rebuild perf.
resource "command" "check_prefix" {
  count  = var.require_file_caps ? 1 : 0
  unless = "${local.helper} check-prefix ${var.prefix} -q"
  run    = "${local.helper} check-prefix ${var.prefix}"
}

# from = "package"

resource "package" "perf" {
  count      = local.package ? 1 : 0
  names      = local.perf_packages
  depends_on = [resource.command.check_prefix]
}

resource "directory" "bin" {
  count      = local.package ? 1 : 0
  path       = "${var.prefix}/bin"
  owner      = "root"
  group      = "root"
  mode       = "0755"
  depends_on = [resource.command.check_prefix]
}

resource "command" "copy_real_perf" {
  count      = local.package ? 1 : 0
  run        = "${local.helper} install-real-perf ${local.binary}"
  unless     = "${local.helper} install-real-perf ${local.binary} -check"
  depends_on = [resource.package.perf, resource.directory.bin, resource.file.helper]
}

# from = "source"

resource "package" "build_deps" {
  count      = local.source && var.install_build_deps ? 1 : 0
  names      = lookup(local.build_deps, host.facts.package_manager, local.build_deps["apt"])
  depends_on = [resource.command.check_prefix]
}

resource "source" "kernel" {
  count      = local.source ? 1 : 0
  path       = var.kernel_source_path
  url        = var.kernel_source_url
  sha256     = var.kernel_source_sha256
  dest       = local.src
  depends_on = [resource.package.build_deps, resource.command.check_prefix]
}

resource "directory" "patches" {
  count = local.source && length(var.patches) > 0 ? 1 : 0
  path  = "${var.build_dir}/patches"
  owner = "root"
  group = "root"
  mode  = "0755"
}

# The patches travel to the host as files; their content is part of the build's stamp.
resource "file" "patch" {
  count      = local.source ? length(var.patches) : 0
  path       = local.patch_files[count.index]
  source     = var.patches[count.index]
  mode       = "0644"
  depends_on = [resource.directory.patches]
}

resource "build" "perf" {
  count = local.source ? 1 : 0
  dir   = var.build_dir
  commands = concat(
    ["rm -rf ${local.work} ${local.stage} ${local.out} && cp -a ${local.src} ${local.work} && mkdir -p ${local.out}"],
    [for p in local.patch_files : "patch -d ${local.work} -p${var.patch_strip} --forward --batch < ${p}"],
    [
      "cd ${local.work} && make -C tools/perf O=${local.out} prefix=${var.prefix} ${join(" ", var.make_flags)} -j$(nproc) DESTDIR=${local.stage} install-bin",
      # The staged perf must run before it replaces anything.
      "${local.stage}${var.prefix}/bin/perf --version",
      "mkdir -p ${var.prefix} && cp -a --remove-destination ${local.stage}${var.prefix}/. ${var.prefix}/",
      "rm -rf ${local.work} ${local.stage} ${local.out}",
    ],
  )
  artifacts  = [local.binary]
  timeout    = "90m"
  depends_on = [resource.source.kernel, resource.file.patch]
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
