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
// replica is rebuilt instead of opened again; a directory that cannot be
// read for lack of permission is the environment's fault, not ErrCorrupt.
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

	if os.Geteuid() == 0 {
		return // root reads whatever the permissions say
	}
	locked := filepath.Join(t.TempDir(), "locked")
	if err := os.MkdirAll(filepath.Join(locked, "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(locked, 0o755)
	if _, err := Open(filepath.Join(locked, "store"), Options{FS: vfs.Default}); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("open in an unreadable directory: %v, want an error that is not ErrCorrupt", err)
	}
}
