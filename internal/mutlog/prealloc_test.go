package mutlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// frameEnd returns where the last frame of a segment image ends, checking
// that only zeros follow.
func frameEnd(t *testing.T, image []byte) int {
	t.Helper()
	n := len(trimZeroTail(image))
	scanFrames(t, image[:n])
	return n
}

// TestSealedSegmentsEndAtLastFrame: while the log is open only its active
// segment holds zeros after its last frame; every sealed one ends exactly
// at its last frame, and after Close so does the last.
func TestSealedSegmentsEndAtLastFrame(t *testing.T) {
	check := func(t *testing.T, fs vfs.FS, dir string) {
		opts := Options{SegmentSize: 16 << 10, PreallocateBytes: 4 << 10}
		l, err := Open(fs, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		var all []Record
		for d := int64(1); d <= 100; d++ {
			r := sized(d, 1, 100+int(d*53%900))
			mustAppend(t, l, r)
			all = append(all, r)
		}
		paths := segmentPathsIn(t, fs, dir)
		if len(paths) < 4 {
			t.Fatalf("%d segments, want several", len(paths))
		}
		for i, p := range paths {
			image := readFile(t, fs, p)
			end := frameEnd(t, image)
			switch last := i == len(paths)-1; {
			case !last && end != len(image):
				t.Fatalf("sealed %s is %d bytes, its frames end at %d", p, len(image), end)
			case last && end == len(image):
				t.Fatalf("active %s has no zeros ahead of the writer (%d bytes)", p, len(image))
			case int64(len(image)) > opts.SegmentSize:
				t.Fatalf("%s is %d bytes, past SegmentSize", p, len(image))
			}
		}
		mustClose(t, l)
		for _, p := range segmentPathsIn(t, fs, dir) {
			if image := readFile(t, fs, p); frameEnd(t, image) != len(image) {
				t.Fatalf("%s holds zeros after Close", p)
			}
		}
		l, err = Open(fs, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		assertRecords(t, replayAll(t, l, 0), all)
		if info := l.Recovery(); info.ZeroTailBytes != 0 || info.TornSegment != "" {
			t.Fatalf("reopen after Close cut something: %+v", info)
		}
		mustClose(t, l)
	}
	t.Run("MemFS", func(t *testing.T) { check(t, vfs.NewMem(), testDir) })
	t.Run("disk", func(t *testing.T) { check(t, vfs.Default, t.TempDir()) })
}

// TestSealInPlaceOnDisk: on the real file system a full segment is cut to
// its last frame in place, not replaced by a copy.
func TestSealInPlaceOnDisk(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(vfs.Default, dir, Options{SegmentSize: 16 << 10, PreallocateBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, sized(1, 1, 100))
	first := filepath.Join(dir, segmentName(1))
	before, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	for d := int64(2); d <= 40; d++ {
		mustAppend(t, l, sized(d, 1, 1000))
	}
	if l.Stats().Segments < 2 {
		t.Fatal("the first segment did not fill")
	}
	after, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("sealing replaced the segment file instead of truncating it")
	}
	mustClose(t, l)
}

// TestReopenZeroTailRepeatedly: a log whose last segment ends in zeros,
// reopened again and again (each time crashing, or closing, straight
// after), keeps every record; the only byte that changes in the files it
// already had is the zero tail, cut once, and each Open adds one empty
// segment.
func TestReopenZeroTailRepeatedly(t *testing.T) {
	for _, crashEach := range []bool{true, false} {
		mem := vfs.NewCrashableMem()
		opts := Options{SegmentSize: 32 << 10, PreallocateBytes: 8 << 10}
		l := mustOpen(t, mem, opts)
		var all []Record
		for d := int64(1); d <= 50; d++ {
			r := sized(d, 1, 100+int(d*71%1500))
			mustAppend(t, l, r)
			all = append(all, r)
		}
		// A crash: everything acknowledged is synced, and so are the
		// zeros ahead of the writer.
		fs := mem.CrashClone(vfs.CrashCloneCfg{})
		mustClose(t, l)

		files := map[string][]byte{}
		paths := segmentPaths(t, fs)
		for _, p := range paths {
			files[p] = readFile(t, fs, p)
		}
		last := paths[len(paths)-1]
		end := frameEnd(t, files[last])
		zeros := len(files[last]) - end
		if zeros == 0 {
			t.Fatal("the crashed log has no zero tail")
		}
		files[last] = files[last][:end]

		for i := range 4 {
			l := mustOpen(t, fs, opts)
			assertRecords(t, replayAll(t, l, 0), all)
			info := l.Recovery()
			if wantZeros := map[bool]int64{true: int64(zeros), false: 0}[i == 0]; info.ZeroTailBytes != wantZeros || info.TornSegment != "" {
				t.Fatalf("open %d: recovery info %+v, want %d zeros cut", i, info, wantZeros)
			}
			if crashEach {
				next := fs.CrashClone(vfs.CrashCloneCfg{})
				mustClose(t, l)
				fs = next
			} else {
				mustClose(t, l)
			}
			paths := segmentPaths(t, fs)
			if len(paths) != len(files)+1 {
				t.Fatalf("open %d: %d segments, want %d", i, len(paths), len(files)+1)
			}
			for _, p := range paths {
				got := readFile(t, fs, p)
				if old, ok := files[p]; ok {
					if !bytes.Equal(got, old) {
						t.Fatalf("open %d changed %s: %d bytes, was %d", i, p, len(got), len(old))
					}
					continue
				}
				if len(got) != segmentHeaderLen {
					t.Fatalf("open %d: new segment %s is %d bytes", i, p, len(got))
				}
				files[p] = got
			}
		}
	}
}

// TestPreallocationIsRare: the active segment is extended once per
// PreallocateBytes of log, not per group commit, and not at all with
// NoPreallocate, which leaves no zeros anywhere.
func TestPreallocationIsRare(t *testing.T) {
	const prealloc = 16 << 10
	opts := Options{SegmentSize: 256 << 10, PreallocateBytes: prealloc}
	fs := vfs.NewMem()
	l := mustOpen(t, fs, opts)
	for d := int64(1); d <= 1000; d++ {
		mustAppend(t, l, sized(d, 1, 300))
	}
	s := l.Stats()
	logBytes := s.Bytes + uint64(s.Segments)*segmentHeaderLen
	if limit := logBytes/prealloc + uint64(s.Segments); s.Preallocations > limit || s.Preallocations == 0 {
		t.Fatalf("%d extensions for %d bytes in %d segments (%d batches), want at most %d",
			s.Preallocations, logBytes, s.Segments, s.Batches, limit)
	}
	mustClose(t, l)

	fs = vfs.NewMem()
	opts.PreallocateBytes = NoPreallocate
	l = mustOpen(t, fs, opts)
	for d := int64(1); d <= 300; d++ {
		mustAppend(t, l, sized(d, 1, 300))
		if d%50 == 0 {
			paths := segmentPaths(t, fs)
			image := readFile(t, fs, paths[len(paths)-1])
			if end := frameEnd(t, image); end != len(image) {
				t.Fatalf("NoPreallocate left %d zeros", len(image)-end)
			}
		}
	}
	if n := l.Stats().Preallocations; n != 0 {
		t.Fatalf("%d extensions with NoPreallocate", n)
	}
	mustClose(t, l)
}

// TestPreallocationFailureIsFailStop: a failed write or sync of the zeros
// fails the log like any other write, and what was acknowledged survives.
func TestPreallocationFailureIsFailStop(t *testing.T) {
	for _, fail := range []string{"write", "sync"} {
		mem := vfs.NewCrashableMem()
		fs := newFaultFS(mem)
		opts := Options{SegmentSize: 64 << 10, PreallocateBytes: 4 << 10}
		l := mustOpen(t, fs, opts)
		var acked []Record
		d := int64(1)
		for ; l.Stats().Preallocations < 2; d++ {
			r := sized(d, 1, 500)
			mustAppend(t, l, r)
			acked = append(acked, r)
		}
		// Fill the zeroed space, so that the next append extends it.
		for {
			r := sized(d, 1, 500)
			mustAppend(t, l, r)
			acked = append(acked, r)
			d++
			if l.w.end-l.w.size < int64(frameLen(500)) {
				break
			}
		}
		switch fail {
		case "write":
			fs.failWrite.Store(true)
		case "sync":
			fs.failFullSync.Store(true)
		}
		if err := l.AppendSync(context.Background(), sized(d, 1, 500)); !errors.Is(err, ErrLogFailed) || !errors.Is(err, errInjected) {
			t.Fatalf("%s failure while extending: append got %v", fail, err)
		}
		if err := l.Close(); !errors.Is(err, ErrLogFailed) {
			t.Fatalf("Close: %v", err)
		}
		l = mustOpen(t, mem.CrashClone(vfs.CrashCloneCfg{}), opts)
		assertRecords(t, replayAll(t, l, 0), acked)
		mustClose(t, l)
	}
}
