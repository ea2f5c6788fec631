resource "directory" "d" { # want: Missing required argument
  owner = "root"
}

resource "file" "f" { # want: Missing required argument
  path = "/etc/x"
}

resource "source" "s" {
  url  = "https://example.org/x.tar.gz" # want: Missing sha256 for url
  dest = "/usr/src/x"
}

host "nowhere" { # want: Missing required argument
  port = 22
}

resource "capabilities" "c" {
}
# want: 18: Missing required argument
