# Built-in module libcap: libcap built from its release tarball (optionally patched) and
# installed under a prefix, so that a current setcap can set cap_perfmon even where the
# distribution's libcap is too old to know the name. The tools find their library through an
# rpath, so nobody has to set LD_LIBRARY_PATH, and nothing is added to the system's ld.so
# configuration (the system's own programs keep the system's libcap).

variable "source_path" {
  type        = string
  default     = null
  description = "A libcap release tarball on the controller, such as libcap2_2.66.orig.tar.xz; relative to the calling spec."
}

variable "source_url" {
  type        = string
  default     = null
  description = "A URL of a libcap release tarball, downloaded once on the controller (needs source_sha256)."
}

variable "source_sha256" {
  type        = string
  default     = null
  description = "The sha256 of the tarball at source_url."
}

variable "patches" {
  type        = list(string)
  default     = []
  description = "Patch files applied in order to the unpacked source (relative to the calling spec)."
}

variable "patch_strip" {
  type    = number
  default = 1
}

variable "prefix" {
  type        = string
  default     = "/opt/libcap"
  description = "Install prefix: the tools land in PREFIX/sbin, the library in PREFIX/lib."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.prefix))
    error_message = "prefix must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "build_dir" {
  type        = string
  default     = "/var/cache/perfprov/build/libcap"
  description = "Where the source is unpacked and built on the host."

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.build_dir))
    error_message = "build_dir must be an absolute path made of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "install_build_deps" {
  type        = bool
  default     = true
  description = "Install the compiler and make from the distribution's packages."
}

locals {
  src = "${var.build_dir}/src"
  make = join(" ", [
    "make GOLANG=no PAM_CAP=no",
    "prefix=${var.prefix} lib=lib",
    "LDFLAGS=-Wl,-rpath,${var.prefix}/lib",
  ])
  build_deps = {
    apt    = ["gcc", "make", "xz-utils"]
    dnf    = ["gcc", "make", "xz"]
    yum    = ["gcc", "make", "xz"]
    zypper = ["gcc", "make", "xz"]
    apk    = ["gcc", "make", "musl-dev", "linux-headers", "xz"]
  }
}

resource "package" "build_deps" {
  count = var.install_build_deps ? 1 : 0
  names = lookup(local.build_deps, host.facts.package_manager, local.build_deps["apt"])
}

resource "source" "libcap" {
  path       = var.source_path
  url        = var.source_url
  sha256     = var.source_sha256
  dest       = local.src
  depends_on = [resource.package.build_deps]
}

resource "patch" "libcap" {
  count   = length(var.patches) > 0 ? 1 : 0
  dir     = resource.source.libcap.dest
  patches = var.patches
  strip   = var.patch_strip
}

resource "build" "libcap" {
  dir = resource.source.libcap.dest
  commands = [
    local.make,
    "${local.make} install",
  ]
  artifacts = [
    "${var.prefix}/sbin/setcap",
    "${var.prefix}/sbin/getcap",
    "${var.prefix}/sbin/capsh",
  ]
  depends_on = [resource.patch.libcap]
}

output "prefix" {
  value = var.prefix
}

output "setcap" {
  value = "${var.prefix}/sbin/setcap"
}

output "getcap" {
  value = "${var.prefix}/sbin/getcap"
}

output "capsh" {
  value = "${var.prefix}/sbin/capsh"
}

output "version" {
  description = "The libcap version, read from the tarball's name (\"unknown\" when it does not say)."
  value       = try(regex("libcap2?[-_]([0-9]+[.][0-9]+)", coalesce(var.source_path, var.source_url))[0], "unknown")
}
