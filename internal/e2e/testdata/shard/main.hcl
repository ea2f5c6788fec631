# A run that changes every host a little, for the shard test: one file per host that names it,
# and a command that runs once.
resource "file" "stamp" {
  path    = "/etc/perfprov-shard-test"
  content = "${host.name}\n"
  mode    = "0644"
}

resource "command" "once" {
  run        = "touch /etc/perfprov-shard-test.ran"
  creates    = "/etc/perfprov-shard-test.ran"
  depends_on = [resource.file.stamp]
}
