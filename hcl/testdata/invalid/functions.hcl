resource "file" "f" {
  path    = "/etc/x"
  content = file("does-not-exist.txt") # want: Error in function call
}

resource "file" "g" {
  path    = "/etc/y"
  content = nosuchfunc("x") # want: Call to unknown function
}
