host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

resource "source" "libcap" {
  dest   = "/"
  url    = "https://example.invalid/libcap.tar.xz"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
