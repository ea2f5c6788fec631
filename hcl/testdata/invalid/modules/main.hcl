module "m" { # want: Missing required module input
  source  = "./mod"
  membres = ["alice"] # want: Unsupported argument
}

module "n" { # want: Missing required module input
  source = "./mod"
}

resource "command" "c" {
  run = module.m.nope # want: Unsupported attribute
}
