# A command with a sensitive value in its environment and its script: neither may show in the
# host's process listings while it runs.
variable "token" {
  type      = string
  sensitive = true
}

resource "command" "uses_token" {
  run    = "sleep 4; [ \"$TOKEN\" = ${shellquote(var.token)} ] && echo token-ok"
  env    = { TOKEN = var.token }
}
