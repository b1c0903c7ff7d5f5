package replica

import (
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestCheckpointReceiver(t *testing.T) {
	header := &pb.CheckpointChunk{Decree: 42}
	file := func(name string, off int64, data string, last bool) *pb.CheckpointChunk {
		return &pb.CheckpointChunk{Decree: 42, File: name, Offset: off, Data: []byte(data), LastOfFile: last}
	}
	receive := func(chunks ...*pb.CheckpointChunk) (vfs.FS, int64, error) {
		fs := vfs.NewMem()
		if err := fs.MkdirAll("in", 0o755); err != nil {
			t.Fatal(err)
		}
		r := checkpointReceiver{fs: fs, dir: "in", decree: -1}
		defer r.abort()
		for _, c := range chunks {
			if err := r.take(c); err != nil {
				return fs, 0, err
			}
		}
		d, err := r.finish()
		return fs, d, err
	}

	fs, decree, err := receive(header, file("MANIFEST", 0, "ab", false), file("MANIFEST", 2, "c", true),
		file("empty", 0, "", true))
	if err != nil || decree != 42 {
		t.Fatalf("well-formed stream: decree %d, err %v", decree, err)
	}
	f, err := fs.Open("in/MANIFEST")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "abc" {
		t.Fatalf("file holds %q, want abc", got)
	}

	for name, chunks := range map[string][]*pb.CheckpointChunk{
		"no header":        {file("a", 0, "x", true)},
		"path in name":     {header, file("../a", 0, "x", true)},
		"gap in a file":    {header, file("a", 0, "x", false), file("a", 5, "y", true)},
		"other file early": {header, file("a", 0, "x", false), file("b", 0, "y", true)},
		"file twice":       {header, file("a", 0, "x", true), file("a", 0, "x", true)},
		"other decree":     {header, {Decree: 41, File: "a", LastOfFile: true}},
		"ends inside file": {header, file("a", 0, "x", false)},
		"source error":     {header, {Error: &pb.Error{Code: pb.ErrorCode_ERR_OBJECT_NOT_FOUND}}},
	} {
		if _, _, err := receive(chunks...); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: err %v, want ErrCheckpoint", name, err)
		}
	}
}
