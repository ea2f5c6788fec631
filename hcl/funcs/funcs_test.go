package funcs

import (
	"slices"
	"testing"
)

// TestNamesMatchTable: Names lists exactly the functions of the table, so that the README's
// function list (checked against Names) is the list a spec can call.
func TestNamesMatchTable(t *testing.T) {
	table := Table(func(string) ([]byte, error) { return nil, nil })
	names := Names()
	for n := range table {
		if !slices.Contains(names, n) {
			t.Errorf("Names lacks %s", n)
		}
	}
	for _, n := range names {
		if _, ok := table[n]; !ok {
			t.Errorf("Names lists %s, which the table does not have", n)
		}
	}
	for _, n := range []string{"upper", "templatefile", "filesha256", "try", "can", "tolist", "jsonencode", "regexall"} {
		if !slices.Contains(names, n) {
			t.Errorf("Names lacks %s", n)
		}
	}
}
