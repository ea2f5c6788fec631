module "local" {
  source = "./no-such-dir" # want: Module source not found
}

module "builtin" {
  source = "builtin/perfusers" # want: Module source not found
}

module "remote" {
  source = "git::https://example.org/m.git" # want: Invalid module source
}
