resource "group" "g" {
  count    = 2
  for_each = toset(["a"]) # want: Conflicting count and for_each
}

resource "group" "h" {
  depends_on = ["resource.group.g"] # want: Invalid depends_on reference
}

resource "user" "u" {
  for_each = ["alice", "bob"] # want: Invalid for_each argument
}

resource "user" "v" {
  count = -1 # want: Invalid count argument
}

resource "command" "x" {
  run = "echo ${resource.group.g.name}" # want: Missing resource instance key
}
