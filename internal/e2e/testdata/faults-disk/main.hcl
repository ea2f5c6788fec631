# The fault matrix's disk-full case: a source tree unpacked and a file uploaded onto a small
# filesystem mounted at /opt/big.
variable "tarball" {
  type = string
}

variable "blob" {
  type = string
}

resource "source" "tree" {
  path = var.tarball
  dest = "/opt/big/tree"
}

resource "file" "blob" {
  path       = "/opt/big/blob"
  source     = var.blob
  mode       = "0644"
  depends_on = [resource.source.tree]
}
