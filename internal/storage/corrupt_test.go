package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOpenDamagedStoreIsCorrupt: a store whose sstable was cut short (the
// MANIFEST disagrees with the file) fails to open with ErrCorrupt, so the
// replica is rebuilt instead of opened again; a store whose lock is still
// held (a replica not yet closed) is not damaged and is not ErrCorrupt.
func TestOpenDamagedStoreIsCorrupt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(dir, Options{FS: vfs.Default})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, 1, t0, put("h", "s", "v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) == 0 {
		t.Fatal("no sstable after Close")
	}
	st, err := os.Stat(ssts[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(ssts[0], st.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{FS: vfs.Default}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with a truncated sstable: %v, want ErrCorrupt", err)
	}

	// A store still open (its lock held) is no damage.
	live, err := Open(filepath.Join(t.TempDir(), "live"), Options{FS: vfs.Default})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := Open(live.Dir(), Options{FS: vfs.Default}); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a store still open: %v, want an error that is not ErrCorrupt", err)
	}
}
