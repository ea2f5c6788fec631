hots "a" { # want: Unsupported block type
  address = "10.0.0.1"
}
