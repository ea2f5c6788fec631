host "a" { # want: Unclosed configuration block
  address = "10.0.0.1"
