package version

import "testing"

func TestFormats(t *testing.T) {
	for _, f := range Formats() {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Fatalf("ParseFormat(%q) = %+v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseFormat("store two"); err == nil {
		t.Fatal("bad line parsed")
	}
	v1 := []Format{{"log", 1, 1}, {"store", 1, 1}}
	v2reads := []Format{{"log", 1, 1}, {"store", 1, 1}} // reads 1 only
	v2 := []Format{{"log", 1, 1}, {"store", 2, 1}}      // writes 2, reads 1-2
	v3 := []Format{{"log", 1, 1}, {"store", 3, 2}}      // no longer reads 1
	for _, tc := range []struct {
		name     string
		cur, old []Format
		blocked  bool
	}{
		{"same formats", v1, v2reads, false},
		{"back from a release that writes store 2 to one that reads only 1", v2, v1, true},
		{"back from 3 to 2: 2 does not read 3", v3, v2, true},
		{"forward is not a rollback's business but reads", v1, v2, false},
		{"a format the old binary does not know", append(v1, Format{"meta", 1, 1}), v1, true},
	} {
		if got := RollbackBlocked(tc.cur, tc.old); (got != "") != tc.blocked {
			t.Errorf("%s: %q", tc.name, got)
		}
	}
}
