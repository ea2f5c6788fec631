host "a" {
  address = "10.0.0.1"
  port = # want: Invalid expression
}
