# Built-in module libcap: libcap built from its release tarball (optionally patched) and
# installed under a prefix, so that a current setcap can set cap_perfmon even where the
# distribution's libcap is too old to know the name. The tools find their library through an
# rpath, so nobody has to set LD_LIBRARY_PATH, and nothing is added to the system's ld.so
# configuration (the system's own programs keep the system's libcap).
#
# How it builds (build.libcap): the pristine source (source.libcap, unpacked once per tarball
# sha256) is copied to a fresh work tree, every patch is applied to that copy, and make installs
# into a staging directory (DESTDIR). Only when all of that succeeded are the staged files copied
# over PREFIX: a patch that does not apply, or a build that fails, leaves the installed tools as
# they were. The build's stamp digests the tarball's sha256, each patch's content and the make
# command, so editing a patch rebuilds libcap (and nothing else) and an unchanged spec rebuilds
# nothing.

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
  description = "Patch files applied in order to a fresh copy of the source (relative to the calling spec)."
}

variable "patch_strip" {
  type        = number
  default     = 1
  description = "Leading path components patch strips (patch -pN)."
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
  description = "Install the compiler, make, patch and xz from the distribution's packages."
}

locals {
  src   = "${var.build_dir}/src"
  work  = "${var.build_dir}/work"
  stage = "${var.build_dir}/stage"
  make = join(" ", [
    "make -C ${local.work} -j$(nproc)",
    "GOLANG=no PAM_CAP=no",
    "prefix=${var.prefix} lib=lib",
    "LDFLAGS=-Wl,-rpath,${var.prefix}/lib",
    "DESTDIR=${local.stage}",
  ])
  patch_files = [for i, p in var.patches : "${var.build_dir}/patches/${format("%02d", i)}.patch"]
  build_deps = {
    apt    = ["gcc", "make", "patch", "xz-utils"]
    dnf    = ["gcc", "make", "patch", "xz"]
    yum    = ["gcc", "make", "patch", "xz"]
    zypper = ["gcc", "make", "patch", "xz"]
    apk    = ["gcc", "make", "patch", "musl-dev", "linux-headers", "xz"]
    pacman = ["gcc", "make", "patch", "linux-api-headers", "xz"]
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

resource "directory" "patches" {
  count = length(var.patches) > 0 ? 1 : 0
  path  = "${var.build_dir}/patches"
  owner = "root"
  group = "root"
  mode  = "0755"
}

# The patches travel to the host as files; their content is part of the build's stamp.
resource "file" "patch" {
  count      = length(var.patches)
  path       = local.patch_files[count.index]
  source     = var.patches[count.index]
  mode       = "0644"
  depends_on = [resource.directory.patches]
}

resource "build" "libcap" {
  dir = var.build_dir
  commands = concat(
    ["rm -rf ${local.work} ${local.stage} && cp -a ${resource.source.libcap.dest} ${local.work}"],
    [for p in local.patch_files : "patch -d ${local.work} -p${var.patch_strip} --forward --batch < ${p}"],
    [
      "${local.make} install",
      # The staged tools must run (with the staged library) before they replace anything.
      "LD_LIBRARY_PATH=${local.stage}${var.prefix}/lib ${local.stage}${var.prefix}/sbin/capsh --decode=0",
      "mkdir -p ${var.prefix} && cp -a --remove-destination ${local.stage}${var.prefix}/. ${var.prefix}/",
      "rm -rf ${local.work} ${local.stage}",
    ],
  )
  artifacts = [
    "${var.prefix}/sbin/setcap",
    "${var.prefix}/sbin/getcap",
    "${var.prefix}/sbin/capsh",
    "${var.prefix}/lib/libcap.so.2",
  ]
  timeout    = "30m"
  depends_on = [resource.file.patch]
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
