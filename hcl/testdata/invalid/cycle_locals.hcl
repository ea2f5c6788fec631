locals {
  a = local.b # want: Dependency cycle
  b = local.a
}
