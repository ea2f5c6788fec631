connection {
  host_key_checking = "no" # want: Invalid connection host_key_checking
  become            = "su" # want: Invalid connection become
  timeout           = "ten seconds" # want: Invalid duration
  password_env      = "hunter2 is my password" # want: Invalid environment variable name
  persist           = "-5s" # want: Invalid duration
}

group "g" {
  hosts = ["a"]

  connection {
    persist = "until tomorrow" # want: Invalid duration
    proxy_command = "nc %h %x" # want: Invalid proxy command
  }
}

host "a" {
  address = "10.0.0.1"

  connection {
    type = "telnet" # want: Invalid connection type
    jump = ["bastion:99999"] # want: Invalid jump host
  }
}

host "b" {
  address = "10.0.0.2"

  connection {
    jump          = ["bastion"]
    proxy_command = "ssh -W %h:%p bastion" # want: Conflicting connection settings
  }
}
