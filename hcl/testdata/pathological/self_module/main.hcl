module "again" {
  source = "./mod"
}
