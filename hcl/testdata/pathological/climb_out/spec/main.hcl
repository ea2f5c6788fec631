module "etc" {
  source = "../../etc"
}
