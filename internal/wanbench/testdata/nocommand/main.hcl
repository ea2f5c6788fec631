# The desired state of the WAN benchmark without command resources: a group, a user in it, a
# directory and three files. ../command is the same plus two commands; ../ansible/noop.yml is
# ../command for Ansible.

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
