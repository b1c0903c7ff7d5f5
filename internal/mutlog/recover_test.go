package mutlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// buildLog writes recs, one synced append each, into a fresh MemFS log and
// returns the FS and the image of the segment holding them.
func buildLog(t *testing.T, opts Options, recs []Record) (*vfs.MemFS, []string) {
	t.Helper()
	fs := vfs.NewMem()
	l := mustOpen(t, fs, opts)
	for _, r := range recs {
		mustAppend(t, l, r)
	}
	mustClose(t, l)
	return fs, segmentPaths(t, fs)
}

// copyWith copies every segment of src into a new MemFS, replacing the
// contents of path by image.
func copyWith(t *testing.T, src vfs.FS, paths []string, path string, image []byte) *vfs.MemFS {
	t.Helper()
	fs := vfs.NewMem()
	if err := fs.MkdirAll(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b := image
		if p != path {
			b = readFile(t, src, p)
		}
		writeFile(t, fs, p, b)
	}
	return fs
}

func testRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = sized(int64(i+1), 1, 1+(i*37)%90)
	}
	return recs
}

// TestTornTailEveryOffset simulates a crash that persisted every prefix of
// the last segment, followed by nothing or, as the writer leaves the file,
// by zeros: Open must keep exactly the records intact in the image, report a
// torn tail only if something other than zeros follows them, accept new
// appends, and be stable across another reopen.
func TestTornTailEveryOffset(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		// A small preallocation: MemFS writes zeros a byte at a time, and
		// this test opens thousands of logs.
		{"one segment", Options{PreallocateBytes: 4 << 10}},
		// Several segments: the cut applies to the last one only.
		{"several segments", Options{SegmentSize: 400}},
		{"no preallocation", Options{PreallocateBytes: NoPreallocate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := testRecords(24)
			src, paths := buildLog(t, tc.opts, recs)
			last := paths[len(paths)-1]
			image := readFile(t, src, last)
			frames := scanFrames(t, image)
			before := len(recs) - len(frames) // records in earlier segments

			for cut := 0; cut <= len(image); cut++ {
				for _, zeros := range []int{0, 3000} {
					crashed := append(bytes.Clone(image[:cut]), make([]byte, zeros)...)
					fs := copyWith(t, src, paths, last, crashed)
					l, err := Open(fs, testDir, tc.opts)
					if err != nil {
						t.Fatalf("cut at %d + %d zeros: %v", cut, zeros, err)
					}
					// A frame whose last bytes are zeros survives a cut
					// among them when zeros follow.
					kept, keptEnd := before, int64(segmentHeaderLen)
					for _, f := range frames {
						if f.end > int64(len(crashed)) || !bytes.Equal(crashed[f.off:f.end], image[f.off:f.end]) {
							break
						}
						kept, keptEnd = kept+1, f.end
					}
					torn := cut < segmentHeaderLen ||
						slices.ContainsFunc(crashed[keptEnd:], func(b byte) bool { return b != 0 })
					want := recs[:kept]
					assertRecords(t, replayAll(t, l, 0), want)
					info := l.Recovery()
					// A cut at a frame boundary looks like a clean shutdown,
					// and so does one followed by zeros only.
					switch {
					case torn != (info.TornSegment != ""),
						torn && info.TornBytes != int64(len(crashed))-info.TornOffset,
						torn && info.ZeroTailBytes != 0,
						!torn && info.ZeroTailBytes != int64(len(crashed))-keptEnd:
						t.Fatalf("cut at %d of %d + %d zeros: recovery info %+v", cut, len(image), zeros, info)
					}

					next := rec(int64(kept+1), 2, "after crash")
					mustAppend(t, l, next)
					want = append(append([]Record(nil), want...), next)
					assertRecords(t, replayAll(t, l, 0), want)
					mustClose(t, l)

					l = mustOpen(t, fs, tc.opts)
					assertRecords(t, replayAll(t, l, 0), want)
					if info := l.Recovery(); info.TornSegment != "" || info.ZeroTailBytes != 0 {
						t.Fatalf("cut at %d + %d zeros: second open still found a tail to cut: %+v", cut, zeros, info)
					}
					mustClose(t, l)
				}
			}
		})
	}
}

// TestDamagedByte flips each byte of a log whose records were appended one
// synced batch each. Damage in the last record is a torn tail; anywhere
// else a later batch follows, so it is corruption.
func TestDamagedByte(t *testing.T) {
	recs := testRecords(8)
	src, paths := buildLog(t, Options{}, recs)
	last := paths[len(paths)-1]
	image := readFile(t, src, last)
	frames := scanFrames(t, image)
	tail := frames[len(frames)-1]

	for i := range image {
		damaged := bytes.Clone(image)
		damaged[i] ^= 0x5a
		fs := copyWith(t, src, paths, last, damaged)
		l, err := Open(fs, testDir, Options{})
		if int64(i) >= tail.off {
			if err != nil {
				t.Fatalf("byte %d (last record): %v", i, err)
			}
			assertRecords(t, replayAll(t, l, 0), recs[:len(recs)-1])
			if info := l.Recovery(); info.TornOffset != tail.off {
				t.Fatalf("byte %d: torn at %d, want %d", i, info.TornOffset, tail.off)
			}
			mustClose(t, l)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			if err == nil {
				l.Close()
			}
			t.Fatalf("byte %d (acknowledged data): got %v, want ErrCorrupt", i, err)
		}
	}
}

// TestDamageInEarlierSegment: every segment but the last was synced in full
// before the next one began, so any damage there is corruption.
func TestDamageInEarlierSegment(t *testing.T) {
	opts := Options{SegmentSize: 300}
	src, paths := buildLog(t, opts, testRecords(20))
	if len(paths) < 3 {
		t.Fatalf("want several segments, got %d", len(paths))
	}
	first := readFile(t, src, paths[0])
	for _, i := range []int{3, segmentHeaderLen + 2, len(first) - 1} {
		damaged := bytes.Clone(first)
		damaged[i] ^= 1
		fs := copyWith(t, src, paths, paths[0], damaged)
		if _, err := Open(fs, testDir, opts); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damage at %d of the first segment: got %v", i, err)
		}
		fs = copyWith(t, src, paths, paths[0], first[:len(first)-1])
		if _, err := Open(fs, testDir, opts); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated first segment: got %v", err)
		}
	}
}

func TestMissingSegment(t *testing.T) {
	opts := Options{SegmentSize: 300}
	src, paths := buildLog(t, opts, testRecords(20))
	fs := copyWith(t, src, paths, "", nil)
	if err := fs.Remove(paths[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fs, testDir, opts); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	// Losing a prefix is what GC does: fine.
	fs = copyWith(t, src, paths, "", nil)
	if err := fs.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, fs, opts)
	if l.FirstDecree() <= 1 {
		t.Fatalf("FirstDecree %d after losing the first segment", l.FirstDecree())
	}
	mustClose(t, l)
}

// TestTornBatch: a crash may persist any subset of the pages of the batch
// being written. Intact frames of that batch after the damage were never
// acknowledged and are dropped with it.
func TestTornBatch(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, Options{})
	acked := []Record{rec(1, 1, "a"), rec(2, 1, "b")}
	mustAppend(t, l, acked...)
	batch := []Record{sized(3, 1, 100), sized(4, 1, 100), sized(5, 1, 100), sized(6, 1, 100)}
	mustAppend(t, l, batch...)
	mustClose(t, l)

	paths := segmentPaths(t, fs)
	last := paths[len(paths)-1]
	image := readFile(t, fs, last)
	frames := scanFrames(t, image)
	if frames[2].batchStart != frames[5].batchStart || frames[1].batchStart == frames[2].batchStart {
		t.Fatalf("unexpected batch layout %+v", frames)
	}
	for victim := 2; victim < len(frames); victim++ {
		damaged := bytes.Clone(image)
		clear(damaged[frames[victim].off:frames[victim].end]) // a page that never made it
		fs2 := copyWith(t, fs, paths, last, damaged)
		l := mustOpen(t, fs2, Options{})
		want := append(append([]Record(nil), acked...), batch[:victim-2]...)
		assertRecords(t, replayAll(t, l, 0), want)
		mustClose(t, l)
	}
}

func TestTornHeaderRemovesSegment(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, Options{})
	mustAppend(t, l, rec(1, 1, "a"))
	mustClose(t, l)
	paths := segmentPaths(t, fs)
	// A crash while starting the next segment: its header never hit disk.
	next := fs.PathJoin(testDir, segmentName(uint64(len(paths)+1)))
	writeFile(t, fs, next, encodeSegmentHeader(uint64(len(paths) + 1))[:10])
	writeFile(t, fs, paths[0]+tmpSuffix, []byte("leftover of an interrupted repair"))

	l = mustOpen(t, fs, Options{})
	if info := l.Recovery(); info.TornSegment != next || info.TornOffset != 0 {
		t.Fatalf("recovery info %+v", info)
	}
	assertRecords(t, replayAll(t, l, 0), []Record{rec(1, 1, "a")})
	mustAppend(t, l, rec(2, 1, "b"))
	mustClose(t, l)
	if _, err := fs.Stat(paths[0] + tmpSuffix); err == nil {
		t.Fatal("temporary file survived Open")
	}
	l = mustOpen(t, fs, Options{})
	assertRecords(t, replayAll(t, l, 0), []Record{rec(1, 1, "a"), rec(2, 1, "b")})
	mustClose(t, l)
}

// TestCrashClone crashes a crashable MemFS while a batch is written but not
// yet synced: only acknowledged records survive.
func TestCrashClone(t *testing.T) {
	mem := vfs.NewCrashableMem()
	fs := newFaultFS(mem)
	l := mustOpen(t, fs, Options{})
	acked := []Record{rec(1, 1, "a"), rec(2, 1, "b"), rec(3, 1, "c")}
	for _, r := range acked {
		mustAppend(t, l, r)
	}

	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() {
		once.Do(func() {
			close(reached)
			<-release
		})
	}
	fs.onSync.Store(&hook)
	p := l.Append(rec(4, 1, "d"), rec(5, 1, "e"))
	select {
	case <-reached: // written, not synced
	case <-p.Done():
		t.Fatalf("append completed without an fsync: %v", p.Err())
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	close(release)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)

	l = mustOpen(t, crashed, Options{})
	assertRecords(t, replayAll(t, l, 0), acked)
	mustClose(t, l)
}

// TestCrashCloneUnderLoad takes crash clones at arbitrary moments while
// concurrent appenders fill small segments, keeping a random share of the
// unsynced data as a real disk might. Every clone must open without error,
// hold every record acknowledged before the crash, and hold a prefix of the
// log.
func TestCrashCloneUnderLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	torn := 0
	defer func() { t.Logf("%d crashes cut a torn tail", torn) }()
	for round := 0; round < 10; round++ {
		mem := vfs.NewCrashableMem()
		fs := newFaultFS(mem)
		// A slow disk: batches sit written but unsynced for a while, which
		// is when a crash can tear them.
		slowSync := func() { time.Sleep(100 * time.Microsecond) }
		fs.onSync.Store(&slowSync)
		opts := Options{SegmentSize: 16 << 10}
		l := mustOpen(t, fs, opts)

		var (
			mu       sync.Mutex
			next     int64 = 1
			appended       = map[int64]Record{}
			maxAcked atomic.Int64
			wg       sync.WaitGroup
			stop     = make(chan struct{})
		)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Decrees are assigned in log order, as a primary does.
					mu.Lock()
					r := sized(next, 1, 10+int(next*7919%1500))
					next++
					appended[r.Decree] = r
					p := l.Append(r)
					mu.Unlock()
					if err := p.Err(); err != nil {
						t.Error(err)
						return
					}
					// An acknowledgment covers every earlier decree too.
					for {
						cur := maxAcked.Load()
						if r.Decree <= cur || maxAcked.CompareAndSwap(cur, r.Decree) {
							break
						}
					}
				}
			}()
		}

		type crash struct {
			fs    *vfs.MemFS
			acked int64 // every decree up to this one was acknowledged
		}
		var crashes []crash
		for i := 0; i < 8; i++ {
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			acked := maxAcked.Load()
			cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(uint64(round), uint64(i)))}
			crashes = append(crashes, crash{fs: mem.CrashClone(cfg), acked: acked})
		}
		close(stop)
		wg.Wait()
		mustClose(t, l)

		for i, c := range crashes {
			l, err := Open(c.fs, testDir, opts)
			if err != nil {
				t.Fatalf("round %d crash %d: %v", round, i, err)
			}
			got := replayAll(t, l, 0)
			if l.Recovery().TornSegment != "" {
				torn++
			}
			if int64(len(got)) < c.acked {
				t.Fatalf("round %d crash %d: %d records survived, %d were acknowledged", round, i, len(got), c.acked)
			}
			for j, r := range got {
				if want := appended[int64(j+1)]; !equalRecords([]Record{r}, []Record{want}) {
					t.Fatalf("round %d crash %d: record %d is %s, want %s", round, i, j,
						formatRecords([]Record{r}), formatRecords([]Record{want}))
				}
			}
			mustClose(t, l)
		}
	}
}

// TestZeroTailCutInPlace: zeros after the last frame of the last segment
// are cut in place, without a copy, and are not reported as a torn tail;
// anything else before them still is.
func TestZeroTailCutInPlace(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(vfs.Default, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{rec(1, 1, "a"), rec(2, 1, "b")}
	mustAppend(t, l, want...)
	mustClose(t, l)
	seg := filepath.Join(dir, segmentName(1))
	written := readFile(t, vfs.Default, seg)
	appendTo := func(b []byte) {
		f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(make([]byte, 100_000))
	before, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}

	l, err = Open(vfs.Default, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, replayAll(t, l, 0), want)
	if info := l.Recovery(); info.ZeroTailBytes != 100_000 || info.TornSegment != "" || info.TornBytes != 0 {
		t.Fatalf("recovery info %+v", info)
	}
	mustClose(t, l)
	after, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Size() != int64(len(written)) {
		t.Fatalf("segment is %d bytes (same file: %v), want %d in place", after.Size(), os.SameFile(before, after), len(written))
	}
	if !bytes.Equal(readFile(t, vfs.Default, seg), written) {
		t.Fatal("cutting the zeros changed the records")
	}

	// A torn batch followed by zeros is still a torn batch. The first
	// segment is no longer the last: tear the one the last Open started.
	l, err = Open(vfs.Default, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, rec(3, 1, "c"))
	mustClose(t, l)
	paths := segmentPathsIn(t, vfs.Default, dir)
	seg = paths[len(paths)-1]
	torn := readFile(t, vfs.Default, seg)
	torn = append(torn[:len(torn)-5], make([]byte, 50_000)...)
	writeFile(t, vfs.Default, seg, torn)
	before, err = os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	l, err = Open(vfs.Default, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, replayAll(t, l, 0), want)
	info := l.Recovery()
	if info.TornSegment != seg || info.TornBytes != int64(len(torn))-info.TornOffset || info.ZeroTailBytes != 0 {
		t.Fatalf("recovery info %+v", info)
	}
	mustClose(t, l)
	// The torn batch too is cut in place, not copied.
	after, err = os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || after.Size() != info.TornOffset {
		t.Fatalf("torn segment is %d bytes (same file: %v), want %d in place", after.Size(), os.SameFile(before, after), info.TornOffset)
	}
}

// TestCrashAtEveryStep crashes the file system just before each write, sync,
// create, rename and removal the log makes while it fills small segments:
// inside zero extensions, between an extension's sync and the batch written
// over it, inside such a batch, and while a full segment is cut to its last
// frame and the next one is created. Each crash keeps none, some or all of
// the unsynced data. Every crashed log must open, hold every acknowledged
// record and a prefix of the log, and leave no segment holding zeros once
// it is closed.
func TestCrashAtEveryStep(t *testing.T) {
	opts := Options{SegmentSize: 24 << 10, PreallocateBytes: 8 << 10}
	rng := rand.New(rand.NewPCG(3, 5))
	var batches [][]Record
	var all []Record
	for d := int64(1); len(all) < 150; {
		var b []Record
		for range 1 + rng.IntN(3) {
			r := sized(d, 1, 50+rng.IntN(3000))
			d++
			b = append(b, r)
		}
		batches = append(batches, b)
		all = append(all, b...)
	}

	mem := vfs.NewCrashableMem()
	var (
		acked atomic.Int64 // records acknowledged so far
		mu    sync.Mutex
		seen  = map[string]int{}
		// prev is the previous write-like operation on each path.
		prev     = map[string]errorfs.OpKind{}
		crashes  int
		zeroCuts int
		tornCuts int
		failure  error
	)
	// check opens one crashed file system the way a restarted server would.
	check := func(fs *vfs.MemFS, acked int) error {
		l, err := Open(fs, testDir, opts)
		if err != nil {
			return err
		}
		var got []Record
		err = l.Replay(0, func(r Record) error {
			r.Data = bytes.Clone(r.Data)
			got = append(got, r)
			return nil
		})
		info := l.Recovery()
		if cerr := l.Close(); err == nil {
			err = cerr
		}
		switch {
		case err != nil:
			return err
		case len(got) < acked:
			return fmt.Errorf("%d records survived, %d were acknowledged", len(got), acked)
		case !equalRecords(got, all[:len(got)]):
			return fmt.Errorf("survivors are not a prefix of the log: %s", formatRecords(got))
		}
		if info.ZeroTailBytes > 0 {
			zeroCuts++
		}
		if info.TornSegment != "" {
			tornCuts++
		}
		l, err = Open(fs, testDir, opts)
		if err != nil {
			return fmt.Errorf("second open: %w", err)
		}
		if info := l.Recovery(); info.TornSegment != "" || info.ZeroTailBytes != 0 {
			_ = l.Close()
			return fmt.Errorf("second open cut again: %+v", info)
		}
		if err := l.Close(); err != nil {
			return err
		}
		for _, p := range segmentPaths(t, fs) {
			image := readFile(t, fs, p)
			if n := len(trimZeroTail(image)); n != len(image) {
				return fmt.Errorf("%s holds %d bytes after its last frame", p, len(image)-n)
			}
		}
		return nil
	}
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite || op.Kind == errorfs.OpLock {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		var size int64 = -1
		if st, err := mem.Stat(op.Path); err == nil {
			size = st.Size()
		}
		isSegment := strings.HasSuffix(op.Path, segmentSuffix)
		isTmp := strings.HasSuffix(op.Path, tmpSuffix)
		var step string
		switch {
		case isTmp && op.Kind == errorfs.OpCreate:
			step = "cutting a full segment"
		case op.Kind == errorfs.OpRename:
			step = "cut segment about to replace the full one"
		case !isSegment:
		case op.Kind == errorfs.OpFileWriteAt && op.Offset >= size:
			step = "zeros written"
		case op.Kind == errorfs.OpFileWriteAt && prev[op.Path] == errorfs.OpFileSync:
			step = "zeros synced, batch not written"
		case op.Kind == errorfs.OpFileWriteAt:
			step = "batch being written over zeros"
		case op.Kind == errorfs.OpFileSyncData:
			step = "batch written over zeros, not synced"
		case op.Kind == errorfs.OpFileSync && prev[op.Path] == errorfs.OpFileWriteAt:
			step = "zeros written, not synced"
		case op.Kind == errorfs.OpCreate:
			step = "creating the next segment"
		}
		if isSegment || isTmp {
			prev[op.Path] = op.Kind
		}
		if step != "" {
			seen[step]++
		}
		if failure != nil {
			return nil
		}
		for _, pct := range []int{0, 50, 100} {
			crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(crashes), 1))})
			crashes++
			if err := check(crashed, int(acked.Load())); err != nil {
				failure = fmt.Errorf("crash before %v on %s (%s), %d%% of unsynced data kept: %w",
					op.Kind, op.Path, step, pct, err)
				break
			}
		}
		return nil
	}))

	l := mustOpen(t, fs, opts)
	for _, b := range batches {
		mustAppend(t, l, b...)
		acked.Add(int64(len(b)))
	}
	mustClose(t, l)

	mu.Lock()
	defer mu.Unlock()
	if failure != nil {
		t.Fatal(failure)
	}
	if err := check(mem.CrashClone(vfs.CrashCloneCfg{}), len(all)); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	t.Logf("%d crashes: %d cut a zero tail, %d a torn batch; steps %v", crashes, zeroCuts, tornCuts, seen)
	for _, step := range []string{
		"zeros written", "zeros written, not synced", "zeros synced, batch not written",
		"batch written over zeros, not synced", "cutting a full segment",
		"cut segment about to replace the full one", "creating the next segment",
	} {
		if seen[step] == 0 {
			t.Errorf("no crash at step %q", step)
		}
	}
	if zeroCuts == 0 || tornCuts == 0 {
		t.Errorf("%d zero tails and %d torn batches cut: want both", zeroCuts, tornCuts)
	}
}
