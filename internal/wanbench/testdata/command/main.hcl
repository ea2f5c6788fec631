# ../nocommand plus two command resources, one guarded by `creates` and one by `unless`: a no-op
# run must still run the `unless` guard on the host. ../ansible/noop.yml is this for Ansible.

resource "group" "wan" {
  name = "wan"
}

resource "user" "wan" {
  name       = "wanuser"
  groups     = ["wan"]
  depends_on = [resource.group.wan]
}

resource "directory" "wan" {
  path       = "/opt/wan"
  owner      = "root"
  group      = "wan"
  mode       = "0750"
  depends_on = [resource.group.wan]
}

resource "file" "wan" {
  for_each   = toset(["a", "b", "c"])
  path       = "/opt/wan/${each.key}.conf"
  content    = "${each.key} on ${host.name}\n"
  mode       = "0644"
  depends_on = [resource.directory.wan]
}

resource "command" "stamp" {
  run        = "date > /opt/wan/stamp"
  creates    = "/opt/wan/stamp"
  depends_on = [resource.directory.wan]
}

resource "command" "marker" {
  run        = "touch /opt/wan/marker"
  unless     = "test -f /opt/wan/marker"
  depends_on = [resource.directory.wan]
}
