# Stands for a directory outside the spec tree that a module source must not reach.
locals {
  secret = "outside the spec tree"
}
