variable "name" {
  type = string
}

host "inside" { # want: Block not allowed in a module
  address = "10.0.0.1"
}

resource "group" "g" {
  name = var.name
}

output "group" {
  value = resource.group.g.name
}
