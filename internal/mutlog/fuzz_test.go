package mutlog

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FuzzOpenSegment opens a log whose only segment holds arbitrary bytes.
// Open must either refuse with ErrCorrupt or recover a log that replays,
// accepts appends, and reopens to the same contents with nothing left to
// repair.
func FuzzOpenSegment(f *testing.F) {
	fs := vfs.NewMem()
	l, err := Open(fs, testDir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := l.AppendSync(f.Context(), rec(1, 1, "a"), rec(2, 1, "b")); err != nil {
		f.Fatal(err)
	}
	if err := l.AppendSync(f.Context(), rec(3, 1, "c")); err != nil {
		f.Fatal(err)
	}
	if err := l.AppendSync(f.Context(), rec(2, 2, "B")); err != nil {
		f.Fatal(err)
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	valid := readFile(f, fs, fs.PathJoin(testDir, segmentName(1)))
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(valid[:segmentHeaderLen])
	f.Add(valid[:segmentHeaderLen-1])
	f.Add([]byte{})
	flipped := bytes.Clone(valid)
	flipped[segmentHeaderLen+20] ^= 1
	f.Add(flipped)
	zeroed := bytes.Clone(valid)
	clear(zeroed[len(zeroed)-10:])
	f.Add(zeroed)
	// What a crash leaves: the zeros ahead of the writer after the last
	// batch, or after a torn one.
	f.Add(append(bytes.Clone(valid), make([]byte, 100)...))
	f.Add(append(bytes.Clone(valid[:len(valid)-3]), make([]byte, 100)...))
	f.Add(append(bytes.Clone(valid[:segmentHeaderLen]), make([]byte, 100)...))

	// MemFS writes zeros a byte at a time: a small preallocation keeps
	// each run cheap.
	opts := Options{PreallocateBytes: 4 << 10}
	f.Fuzz(func(t *testing.T, image []byte) {
		fs := vfs.NewMem()
		if err := fs.MkdirAll(testDir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, fs, fs.PathJoin(testDir, segmentName(1)), image)
		l, err := Open(fs, testDir, opts)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open failed without ErrCorrupt: %v", err)
			}
			return
		}
		got := replayAll(t, l, 0)
		for i := 1; i < len(got); i++ {
			if got[i].Decree <= got[i-1].Decree {
				t.Fatalf("replay not in decree order: %s", formatRecords(got))
			}
		}
		if info := l.Recovery(); info.Records < len(got) {
			t.Fatalf("replayed %d records of %d read", len(got), info.Records)
		}
		if last := l.LastDecree(); last < math.MaxInt64 {
			next := rec(last+1, 1, "next")
			mustAppend(t, l, next)
			got = append(got, next)
		}
		mustClose(t, l)
		for _, p := range segmentPaths(t, fs) {
			if image := readFile(t, fs, p); len(trimZeroTail(image)) != len(image) {
				t.Fatalf("%s holds bytes after its last frame", p)
			}
		}

		l = mustOpen(t, fs, opts)
		defer mustClose(t, l)
		if info := l.Recovery(); info.TornSegment != "" || info.ZeroTailBytes != 0 {
			t.Fatalf("second Open repaired again: %+v", info)
		}
		assertRecords(t, replayAll(t, l, 0), got)
	})
}
