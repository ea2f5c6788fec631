benchmark "a" {
  run_as    = "root" # want: Invalid run_as
  tolerance = "150%" # want: Invalid tolerance
  repeat    = 0 # want: Invalid repeat
}

benchmark "b" { # want: Missing required argument
  events = ["cycles"]
}
