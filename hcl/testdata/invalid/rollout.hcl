rollout {
  parallel            = 0 # want: Invalid rollout parallel
  batch               = "0%" # want: Invalid rollout batch
  max_fail_percentage = 150 # want: Invalid max_fail_percentage
}

rollout { # want: Duplicate rollout block
}
