variable "name" {
  type = string
}

resource "group" "this" {
  name = var.name
}

output "group" {
  value = resource.group.this.name
}
