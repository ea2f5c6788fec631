host "a" {
  address = "10.0.0.1"
}

host "a" { # want: Duplicate host
  address = "10.0.0.2"
}

group "g" {}

group "g" {} # want: Duplicate group

variable "v" {
  default = 1
}

variable "v" { # want: Duplicate variable
  default = 2
}

locals {
  x = 1
}

locals {
  x = 2 # want: Duplicate local value
}

resource "group" "perf" {}

resource "group" "perf" {} # want: Duplicate resource

module "m" {
  source = "builtin/perf_users"
}

module "m" { # want: Duplicate module
  source = "builtin/perf_users"
}
