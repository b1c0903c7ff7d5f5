package replica

import (
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FuzzReplicaInfo feeds the reader of a replica directory's info file with
// arbitrary bytes: a damaged file is refused with an error (the server
// skips that replica and starts), never a crash; what is accepted is a
// valid info that writes and reads back the same.
func FuzzReplicaInfo(f *testing.F) {
	for _, seed := range []string{
		`{"app_id":1,"partition_index":0,"partition_count":8,"max_replica_count":3,"ballot":4}`,
		`{"app_id":1,"partition_index":9,"partition_count":8,"max_replica_count":3,"ballot":4}`,
		`{"app_id":1,"unknown":true}`,
		`{"app_id":1e99}`,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := vfs.NewMem()
		if err := fs.MkdirAll("r", 0o700); err != nil {
			t.Fatal(err)
		}
		w, err := fs.Create(fs.PathJoin("r", infoFileName), vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		w.Close()
		info, err := readReplicaInfo(fs, "r")
		if err != nil {
			return
		}
		if err := writeReplicaInfo(fs, "r", info); err != nil {
			t.Fatalf("accepted info %+v does not write back: %v", info, err)
		}
		again, err := readReplicaInfo(fs, "r")
		if err != nil || !reflect.DeepEqual(again, info) {
			t.Fatalf("info %+v reads back as %+v, %v", info, again, err)
		}
	})
}
