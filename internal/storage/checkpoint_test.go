package storage

import (
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

func TestCheckpointRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	clock := newTestClock(t0)
	source := openStore(t, fs, "/data/source", clock, Options{})
	for d := int64(1); d <= 10; d++ {
		mustApply(t, source, d, t0,
			put(fmt.Sprintf("h%d", d%3), fmt.Sprint(d), "v"),
			Put{HashKey: []byte("ttl"), SortKey: []byte(fmt.Sprint(d)), Value: []byte("t"), TTLSeconds: 100})
		if d == 5 {
			if _, err := source.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := visible(t, source)

	// The learner holds an older, diverged copy of the partition.
	learner := openStore(t, fs, "/data/learner", clock, Options{})
	mustApply(t, learner, 3, t0, put("stale", "x", "gone after install"))
	if err := learner.Close(); err != nil {
		t.Fatal(err)
	}

	decree, err := source.Checkpoint("/data/learner.checkpoint")
	if err != nil || decree != 10 {
		t.Fatalf("Checkpoint = %d, %v; want 10", decree, err)
	}
	if source.DurableDecree() < 10 {
		t.Fatalf("durable decree %d after a checkpoint at 10", source.DurableDecree())
	}
	mustApply(t, source, 11, t0, put("h0", "after", "not in the checkpoint"))

	learner, err = OpenFromCheckpoint("/data/learner", "/data/learner.checkpoint", Options{FS: fs, Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = learner.Close() })
	if got := learner.LastAppliedDecree(); got != 10 {
		t.Fatalf("learner decree %d, want 10", got)
	}
	if learner.ApplyClock() != PegasusSeconds(t0) {
		t.Fatalf("learner apply clock %d", learner.ApplyClock())
	}
	if got := visible(t, learner); !reflect.DeepEqual(got, want) {
		t.Fatalf("learner holds %d records, source had %d at decree 10", len(got), len(want))
	}
	for _, leftover := range []string{"/data/learner.checkpoint", "/data/learner.replaced"} {
		if ok, _ := exists(fs, leftover); ok {
			t.Errorf("%s left behind", leftover)
		}
	}
	// The learner carries on from the checkpoint's decree.
	mustApply(t, learner, 11, t0, put("h0", "after", "not in the checkpoint"))
	if !reflect.DeepEqual(visible(t, learner), visible(t, source)) {
		t.Fatal("learner and source differ after the same decree")
	}
}

func TestCheckpointRefusesExistingDestination(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, "/data/s", nil, Options{})
	mustApply(t, s, 1, t0, put("h", "s", "v"))
	if err := fs.MkdirAll("/data/cp", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint("/data/cp"); err == nil {
		t.Fatal("Checkpoint into an existing directory succeeded")
	}
	mustApply(t, s, 2, t0, put("h", "s", "v2"))
	if lookup(t, s, "h", "s") != "v2" {
		t.Fatal("store unusable after a failed checkpoint")
	}
}

func TestInstallCheckpointRefusesOpenStore(t *testing.T) {
	fs := vfs.NewMem()
	s := openStore(t, fs, "/data/p", nil, Options{})
	mustApply(t, s, 1, t0, put("h", "s", "mine"))
	if _, err := s.Checkpoint("/data/cp"); err != nil {
		t.Fatal(err)
	}
	if err := InstallCheckpoint(fs, "/data/p", "/data/cp"); err == nil {
		t.Fatal("InstallCheckpoint replaced an open store")
	}
	if lookup(t, s, "h", "s") != "mine" {
		t.Fatal("open store damaged")
	}
}

// installFixture builds, on a crashable filesystem, a closed store at
// /data/p holding decree 5 and a checkpoint at /data/p.cp holding decree 9.
func installFixture(t *testing.T) *vfs.MemFS {
	fs := vfs.NewCrashableMem()
	old, err := Open("/data/p", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, old, 5, t0, put("h", "version", "old"), put("h", "only-old", "x"))
	src, err := Open("/data/src", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, src, 9, t0, put("h", "version", "new"), put("h", "only-new", "x"))
	if _, err := src.Checkpoint("/data/p.cp"); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(old.Close(), src.Close()); err != nil {
		t.Fatal(err)
	}
	return fs
}

// checkWholeStore opens /data/p and checks that it is entirely the old store
// or entirely the checkpoint; it returns the decree found.
func checkWholeStore(t *testing.T, fs vfs.FS) int64 {
	t.Helper()
	s, err := Open("/data/p", Options{FS: fs})
	if err != nil {
		t.Fatalf("Open after the install: %v", err)
	}
	defer s.Close()
	decree := s.LastAppliedDecree()
	var want map[string]string
	switch decree {
	case 5:
		want = map[string]string{"version": "old", "only-old": "x", "only-new": "<absent>"}
	case 9:
		want = map[string]string{"version": "new", "only-old": "<absent>", "only-new": "x"}
	default:
		t.Fatalf("store at decree %d, neither the old one (5) nor the checkpoint (9)", decree)
	}
	for sk, v := range want {
		if got := lookup(t, s, "h", sk); got != v {
			t.Fatalf("decree %d: h/%s = %q, want %q", decree, sk, got, v)
		}
	}
	return decree
}

// Crash InstallCheckpoint at each of its filesystem operations in turn: the
// operation fails, then the machine loses everything not synced. The store
// must come back whole, old or new, and installing again must then succeed.
func TestInstallCheckpointSurvivesCrashAtEveryStep(t *testing.T) {
	sawOld, sawNew := false, false
	for failAt := int64(0); ; failAt++ {
		if failAt > 100 {
			t.Fatal("InstallCheckpoint never completed")
		}
		fs := installFixture(t)
		var ops atomic.Int64
		faulty := errorfs.Wrap(fs, errorfs.InjectorFunc(func(errorfs.Op) error {
			if ops.Add(1)-1 == failAt {
				return errorfs.ErrInjected
			}
			return nil
		}))
		installErr := InstallCheckpoint(faulty, "/data/p", "/data/p.cp")
		crashed := fs.CrashClone(vfs.CrashCloneCfg{})

		decree := checkWholeStore(t, crashed)
		if installErr == nil && decree != 9 {
			t.Fatalf("fail at op %d: install reported success, store at decree %d", failAt, decree)
		}
		if decree == 5 {
			sawOld = true
			if err := InstallCheckpoint(crashed, "/data/p", "/data/p.cp"); err != nil {
				t.Fatalf("fail at op %d: retry after recovery: %v", failAt, err)
			}
			if got := checkWholeStore(t, crashed); got != 9 {
				t.Fatalf("fail at op %d: retry left decree %d", failAt, got)
			}
		} else {
			sawNew = true
		}
		if ops.Load() <= failAt {
			break // the injection was never reached: the install ran to the end
		}
	}
	if !sawOld || !sawNew {
		t.Fatalf("crash points covered only one outcome (old %v, new %v)", sawOld, sawNew)
	}
}
