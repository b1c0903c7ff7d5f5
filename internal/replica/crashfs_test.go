package replica

import (
	"os"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/pegasus-go/pegasus/internal/storage"
)

// crashFS lets an in-process server die the way a killed process does: once
// frozen, nothing more reaches the disk, while the server's own code keeps
// working until it is torn down.
//
// A process killed with SIGKILL leaves on disk exactly what it had written
// (page cache included) and nothing it would have written later. The server
// cannot simply stop writing: closing a Pebble store flushes its memtables.
// So after freeze every new file goes to an in-memory overlay (readable back
// by the code that wrote it, as Pebble expects), writes to files opened
// before lose their bytes, and renames, links and removals of files on disk
// are dropped. The directory on disk keeps the state of the freeze instant.
type crashFS struct {
	vfs.FS
	overlay vfs.FS
	frozen  atomic.Bool
}

func newCrashFS() *crashFS { return &crashFS{FS: vfs.Default, overlay: vfs.NewMem()} }

func (fs *crashFS) freeze() { fs.frozen.Store(true) }

func (fs *crashFS) inOverlay(name string) bool {
	_, err := fs.overlay.Stat(name)
	return err == nil
}

func (fs *crashFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.frozen.Load() {
		if err := fs.overlay.MkdirAll(fs.overlay.PathDir(name), 0o755); err != nil {
			return nil, err
		}
		return fs.overlay.Create(name, c)
	}
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return crashFile{File: f, fs: fs}, nil
}

func (fs *crashFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if fs.frozen.Load() && fs.inOverlay(name) {
		return fs.overlay.Open(name, opts...)
	}
	f, err := fs.FS.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	return crashFile{File: f, fs: fs}, nil
}

func (fs *crashFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	if fs.frozen.Load() && fs.inOverlay(name) {
		return fs.overlay.OpenReadWrite(name, c, opts...)
	}
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return crashFile{File: f, fs: fs}, nil
}

func (fs *crashFS) Stat(name string) (vfs.FileInfo, error) {
	if fs.frozen.Load() && fs.inOverlay(name) {
		return fs.overlay.Stat(name)
	}
	return fs.FS.Stat(name)
}

func (fs *crashFS) List(dir string) ([]string, error) {
	names, err := fs.FS.List(dir)
	if fs.frozen.Load() {
		more, _ := fs.overlay.List(dir)
		names = append(names, more...)
	}
	return names, err
}

func (fs *crashFS) Link(oldname, newname string) error {
	if fs.frozen.Load() {
		return nil
	}
	return fs.FS.Link(oldname, newname)
}

func (fs *crashFS) Rename(oldname, newname string) error {
	if fs.frozen.Load() {
		if fs.inOverlay(oldname) {
			if err := fs.overlay.MkdirAll(fs.overlay.PathDir(newname), 0o755); err != nil {
				return err
			}
			return fs.overlay.Rename(oldname, newname)
		}
		return nil
	}
	return fs.FS.Rename(oldname, newname)
}

func (fs *crashFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.frozen.Load() {
		return fs.Create(newname, c)
	}
	return fs.FS.ReuseForWrite(oldname, newname, c)
}

func (fs *crashFS) Remove(name string) error {
	if fs.frozen.Load() {
		if fs.inOverlay(name) {
			return fs.overlay.Remove(name)
		}
		return nil
	}
	return fs.FS.Remove(name)
}

func (fs *crashFS) RemoveAll(name string) error {
	if fs.frozen.Load() {
		return nil
	}
	return fs.FS.RemoveAll(name)
}

func (fs *crashFS) MkdirAll(dir string, perm os.FileMode) error {
	if fs.frozen.Load() {
		return fs.overlay.MkdirAll(dir, perm)
	}
	return fs.FS.MkdirAll(dir, perm)
}

// crashFile is a file opened before the freeze: afterwards its writes and
// syncs succeed without reaching the disk.
type crashFile struct {
	vfs.File
	fs *crashFS
}

func (f crashFile) Write(p []byte) (int, error) {
	if f.fs.frozen.Load() {
		return len(p), nil
	}
	return f.File.Write(p)
}

func (f crashFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.frozen.Load() {
		return len(p), nil
	}
	return f.File.WriteAt(p, off)
}

func (f crashFile) Sync() error {
	if f.fs.frozen.Load() {
		return nil
	}
	return f.File.Sync()
}

func (f crashFile) SyncData() error {
	if f.fs.frozen.Load() {
		return nil
	}
	return f.File.SyncData()
}

// TestCrashFSKeepsTheFreezeInstant checks the harness itself: a store
// closed after the freeze reopens at its last flush, not at what it applied.
func TestCrashFSKeepsTheFreezeInstant(t *testing.T) {
	dir := t.TempDir()
	fs := newCrashFS()
	s, err := storage.Open(dir, storage.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	for d := int64(1); d <= 10; d++ {
		op := storage.Put{HashKey: []byte("h"), SortKey: []byte{byte(d)}, Value: []byte("v")}
		if _, err := s.Apply(d, 1_700_000_000, storage.RequestID{}, []storage.WriteOp{op}); err != nil {
			t.Fatal(err)
		}
		if d == 4 {
			if _, err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	fs.freeze()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.LastAppliedDecree(); got != 4 {
		t.Fatalf("reopened at decree %d, want the flushed 4", got)
	}
}
