resource "command" "a" { # want: Dependency cycle
  run = "echo ${resource.command.b.run}"
}

resource "command" "b" {
  run        = "echo b"
  depends_on = [resource.command.a]
}
