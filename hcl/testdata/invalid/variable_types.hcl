variable "members" {
  type    = list(string)
  default = "alice" # want: Invalid default value for variable
}

variable "port" {
  type    = number
  default = var.other # want: Variables not allowed
}

variable "required" { # want: No value for required variable
  type = string
}
