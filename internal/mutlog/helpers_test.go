package mutlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

const testDir = "plog"

// rec builds a record whose payload names it, so that a test can tell which
// copy of a decree it got back.
func rec(decree, ballot int64, tag string) Record {
	return Record{Decree: decree, Ballot: ballot, Data: []byte(fmt.Sprintf("%d/%d/%s", decree, ballot, tag))}
}

// sized builds a record with a payload of n bytes derived from decree.
func sized(decree, ballot int64, n int) Record {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(decree*31 + int64(i))
	}
	return Record{Decree: decree, Ballot: ballot, Data: data}
}

func mustOpen(t testing.TB, fs vfs.FS, opts Options) *Log {
	t.Helper()
	l, err := Open(fs, testDir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustAppend(t testing.TB, l *Log, recs ...Record) {
	t.Helper()
	if err := l.AppendSync(context.Background(), recs...); err != nil {
		t.Fatalf("AppendSync: %v", err)
	}
}

// replayAll returns copies of every effective record from decree from on.
func replayAll(t testing.TB, l *Log, from int64) []Record {
	t.Helper()
	var out []Record
	err := l.Replay(from, func(r Record) error {
		r.Data = bytes.Clone(r.Data)
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d): %v", from, err)
	}
	return out
}

func equalRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Decree != b[i].Decree || a[i].Ballot != b[i].Ballot || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func formatRecords(recs []Record) string {
	var b bytes.Buffer
	for _, r := range recs {
		fmt.Fprintf(&b, "(%d,%d,%q) ", r.Decree, r.Ballot, r.Data)
	}
	return b.String()
}

func assertRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if !equalRecords(got, want) {
		t.Fatalf("records:\n got %s\nwant %s", formatRecords(got), formatRecords(want))
	}
}

// readFile returns the contents of name in fs.
func readFile(t testing.TB, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile creates name in fs with contents b, synced.
func writeFile(t testing.TB, fs vfs.FS, name string, b []byte) {
	t.Helper()
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Clone(b)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// segmentPaths lists the log's segment files in log order.
func segmentPaths(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	return segmentPathsIn(t, fs, testDir)
}

// segmentPathsIn lists the segment files of the log in dir in log order.
func segmentPathsIn(t testing.TB, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, n := range names {
		if seq, ok := parseSegmentName(n); ok {
			seqs = append(seqs, seq)
		}
	}
	var paths []string
	slices.Sort(seqs)
	for _, seq := range seqs {
		paths = append(paths, fs.PathJoin(dir, segmentName(seq)))
	}
	return paths
}

// rawFrame is a frame found by scanning a segment's bytes.
type rawFrame struct {
	rec        Record
	off, end   int64
	batchStart int64
}

// scanFrames decodes every frame of an intact segment image.
func scanFrames(t testing.TB, seg []byte) []rawFrame {
	t.Helper()
	var out []rawFrame
	for off := int64(segmentHeaderLen); off < int64(len(seg)); {
		r, batch, n, err := decodeFrame(seg[off:])
		if err != nil {
			t.Fatalf("frame at %d: %v", off, err)
		}
		r.Data = bytes.Clone(r.Data)
		out = append(out, rawFrame{rec: r, off: off, end: off + int64(n), batchStart: batch})
		off += int64(n)
	}
	return out
}

// trimZeroTail returns seg without the zeros after its last frame: the
// unused preallocated space of an open log's active segment. Anything else
// after the frames is kept, for scanFrames to report.
func trimZeroTail(seg []byte) []byte {
	off := segmentHeaderLen
	for off < len(seg) {
		_, _, n, err := decodeFrame(seg[off:])
		if err != nil {
			break
		}
		off += n
	}
	if off < len(seg) && slices.ContainsFunc(seg[off:], func(b byte) bool { return b != 0 }) {
		return seg
	}
	return seg[:min(off, len(seg))]
}

var errInjected = errors.New("injected failure")

// faultFS wraps fs so that a test can count syncs of record data and make
// writes or syncs fail or block.
type faultFS struct {
	*errorfs.FS
	dataSyncs atomic.Int64
	failWrite atomic.Bool
	failSync  atomic.Bool
	// failFullSync fails fsyncs (not fdatasyncs) of segment files.
	failFullSync atomic.Bool
	// failRemove, if set, names a file whose removal fails.
	failRemove atomic.Pointer[string]
	// onSync, if set, runs before each sync of record data reaches fs.
	onSync atomic.Pointer[func()]
}

func newFaultFS(fs vfs.FS) *faultFS {
	f := &faultFS{}
	f.FS = errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSyncData:
			f.dataSyncs.Add(1)
			if fn := f.onSync.Load(); fn != nil {
				(*fn)()
			}
			if f.failSync.Load() {
				return errInjected
			}
		case errorfs.OpFileSync:
			if f.failFullSync.Load() && strings.HasSuffix(op.Path, segmentSuffix) {
				return errInjected
			}
		case errorfs.OpFileWrite, errorfs.OpFileWriteAt:
			if f.failWrite.Load() {
				return errInjected
			}
		case errorfs.OpRemove:
			if p := f.failRemove.Load(); p != nil && *p == op.Path {
				return errInjected
			}
		}
		return nil
	}))
	return f
}
