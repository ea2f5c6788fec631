variable "paranoid" {
  type    = number
  default = 5

  validation {
    condition     = var.paranoid <= 2 # want: Invalid value for variable
    error_message = "paranoid above 2 disables CAP_PERFMON on Debian and Ubuntu kernels."
  }
}
