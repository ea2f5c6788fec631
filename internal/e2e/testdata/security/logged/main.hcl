# A command with a sensitive value in its script and its environment, applied with the debug log
# on at trace (TestSecurityDebugLogNoSecret): the log shows the script with the value replaced.
variable "token" {
  type      = string
  sensitive = true
}

resource "command" "uses_token" {
  run = "[ \"$TOKEN\" = ${shellquote(var.token)} ] && echo token-ok"
  env = { TOKEN = var.token }
}
