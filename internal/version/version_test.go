package version

import (
	"strings"
	"testing"
)

func TestParseProtocol(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Protocol
		wantErr bool
	}{
		{in: "1.0", want: Protocol{1, 0}},
		{in: " 2.13 ", want: Protocol{2, 13}},
		{in: "1", wantErr: true},
		{in: "a.b", wantErr: true},
		{in: "-1.0", wantErr: true},
	} {
		got, err := ParseProtocol(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseProtocol(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCompatibility(t *testing.T) {
	if !(Protocol{1, 0}).CompatibleWith(Protocol{1, 1}) {
		t.Error("minor bump must stay compatible")
	}
	if (Protocol{1, 3}).CompatibleWith(Protocol{2, 0}) {
		t.Error("major bump must be incompatible")
	}
	for _, tc := range []struct {
		a, b          Protocol
		cluster, wire bool
	}{
		{Protocol{1, 4}, Protocol{1, 4}, true, true},
		{Protocol{1, 4}, Protocol{1, 3}, true, true},
		{Protocol{1, 4}, Protocol{1, 5}, true, true},
		{Protocol{1, 4}, Protocol{1, 2}, false, true},
		{Protocol{1, 4}, Protocol{1, 6}, false, true},
		{Protocol{1, 4}, Protocol{2, 4}, false, false},
		{Protocol{1, 0}, Protocol{0, 9}, false, false},
	} {
		if got := tc.a.CompatibleWith(tc.b); got != tc.cluster || tc.b.CompatibleWith(tc.a) != got {
			t.Errorf("%v.CompatibleWith(%v) = %v, want %v both ways", tc.a, tc.b, got, tc.cluster)
		}
		if got := tc.a.WireCompatible(tc.b); got != tc.wire {
			t.Errorf("%v.WireCompatible(%v) = %v, want %v", tc.a, tc.b, got, tc.wire)
		}
	}
	if Current().String() == "" || String() == "" {
		t.Error("empty version strings")
	}
}

// Built from a git checkout, the binary names its commit and build time;
// the test binary itself is built so by `go test` in a git work tree.
func TestInfoFromBuild(t *testing.T) {
	info := Get()
	if info.Version != Release() || info.Protocol != Current().String() || info.GoVersion == "" {
		t.Fatalf("info %+v", info)
	}
	var b strings.Builder
	if err := Write(&b, false); err != nil || !strings.Contains(b.String(), "commit:     "+Commit()) {
		t.Fatalf("Write: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := Write(&b, true); err != nil || !strings.Contains(b.String(), `"build_time": "`+BuildTime()+`"`) {
		t.Fatalf("Write JSON: %v\n%s", err, b.String())
	}
	commit, buildTime = "abc", "2026-01-02T03:04:05Z"
	defer func() { commit, buildTime = "", "" }()
	if Commit() != "abc" || BuildTime() != "2026-01-02T03:04:05Z" || !strings.Contains(String(), "commit abc, built 2026-01-02T03:04:05Z") {
		t.Fatalf("ldflags values not used: %s", String())
	}
}
