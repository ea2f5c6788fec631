host "a" {
  address = "10.0.0.1"
}

host "b" {
  address = "10.0.0.2"
}

resource "directory" "only_a" {
  hosts = ["a"]
  path  = "/srv/a"
}

resource "file" "f" {
  path    = "${resource.directory.only_a.path}/x" # want: Reference to a resource not applied to this host
  content = "x"
}
