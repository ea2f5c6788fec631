# The apply of BenchmarkChanges: five changes in two dependency levels. Level 1: three groups and a
# directory, none depending on another; level 2: a user in the three groups. The benchmark undoes
# them on the host (not through the proxy) before each timed run.

resource "group" "chg" {
  for_each = toset(["chg1", "chg2", "chg3"])
  name     = each.key
}

resource "directory" "chg" {
  path = "/opt/wanchg"
  mode = "0750"
}

resource "user" "chg" {
  name       = "chguser"
  groups     = ["chg1", "chg2", "chg3"]
  depends_on = [resource.group.chg]
}
