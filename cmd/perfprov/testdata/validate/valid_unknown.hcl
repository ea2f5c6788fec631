host "web1" {
  address = "192.0.2.1"
}

host "web2" {
  address = "192.0.2.2"
}

# Values known only after facts are left to plan; a url is not downloaded.
resource "sysctl" "from_facts" {
  name  = "kernel.perf_event_paranoid"
  value = host.facts.kernel.release
}

resource "source" "libcap" {
  dest   = "/usr/src/libcap"
  url    = "https://example.invalid/libcap.tar.xz"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}
