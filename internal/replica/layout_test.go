package replica

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestParseReplicaDir(t *testing.T) {
	for name, want := range map[string]bool{
		"1.0": true, "12.345": true, "0.1": false, "1.-1": false, "01.2": false,
		"1.2.gar.99": false, "1": false, "a.b": false, "1.2.tmp": false,
	} {
		g, ok := parseReplicaDir(name)
		if ok != want {
			t.Errorf("parseReplicaDir(%q) = %v, %v; want ok=%v", name, g, ok, want)
		}
		if ok && g.String() != name {
			t.Errorf("parseReplicaDir(%q) = %v", name, g)
		}
	}
}

func TestReplicaInfoRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("r/1.2", 0o755); err != nil {
		t.Fatal(err)
	}
	info := replicaInfo{AppID: 1, PartitionIndex: 2, PartitionCount: 8, MaxReplicaCount: 3, Ballot: 17,
		Incarnation: 0xfeed, Primary: "a:1", MemberBallot: 16, Holds: []holdRecord{{Primary: "b:2", Ballot: 15}}}
	if err := writeReplicaInfo(fs, "r/1.2", info); err != nil {
		t.Fatal(err)
	}
	info.Ballot = 18 // a rewrite replaces the file
	if err := writeReplicaInfo(fs, "r/1.2", info); err != nil {
		t.Fatal(err)
	}
	got, err := readReplicaInfo(fs, "r/1.2")
	if err != nil || !reflect.DeepEqual(got, info) {
		t.Fatalf("read %+v, %v; want %+v", got, err, info)
	}
	bad := info
	bad.PartitionIndex = 8 // not below the partition count
	if err := writeReplicaInfo(fs, "r/1.2", bad); !errors.Is(err, ErrCorruptInfo) {
		t.Fatalf("writing %+v: err %v, want ErrCorruptInfo", bad, err)
	}
	f, err := fs.Create("r/1.2/"+infoFileName, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte(`{"app_id":1,"partition_index":2,"surprise":1}`))
	_ = f.Close()
	if _, err := readReplicaInfo(fs, "r/1.2"); !errors.Is(err, ErrCorruptInfo) {
		t.Fatalf("unknown field: err %v, want ErrCorruptInfo", err)
	}
}
