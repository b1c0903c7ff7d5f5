package storage

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Checkpoint writes a consistent copy of the store to destDir, which must not
// exist and must be on the store's filesystem, and returns the decree the copy
// holds. Sstables are hard linked where the filesystem allows, so a
// checkpoint is cheap in time and, until compactions rewrite the originals,
// in space.
//
// The copy holds exactly the state after the returned decree: the memtables
// are flushed and the checkpoint taken with writers excluded, because with
// the WAL off anything left in a memtable would be missing from the copy.
func (s *Store) Checkpoint(destDir string) (int64, error) {
	// Flush once while writers run, so that the flush under the write lock
	// below has little left to write and blocks Apply briefly.
	if _, err := s.Flush(); err != nil {
		return 0, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	decree := s.lastApplied.Load()
	if err := s.db.Flush(); err != nil {
		return 0, fmt.Errorf("storage: checkpoint: flush: %w", err)
	}
	if err := s.db.Checkpoint(destDir); err != nil {
		return 0, fmt.Errorf("storage: checkpoint to %s: %w", destDir, err)
	}
	s.advanceDurable(decree)
	return decree, nil
}

// OpenFromCheckpoint replaces the store in dir, which must be closed, with the
// checkpoint in checkpointDir (see InstallCheckpoint), then opens it.
func OpenFromCheckpoint(dir, checkpointDir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := InstallCheckpoint(opts.FS, dir, checkpointDir); err != nil {
		return nil, err
	}
	return Open(dir, opts)
}

// replacedDir is where InstallCheckpoint parks the store it replaces until
// the checkpoint is in place.
func replacedDir(dir string) string { return dir + ".replaced" }

// InstallCheckpoint makes the checkpoint in checkpointDir the store in dir,
// as a learner does with a checkpoint it copied from the primary. The store
// in dir, if any, must be closed; the checkpoint directory is consumed. Both
// must be on one filesystem, since the swap is made of renames:
//
//  1. dir is renamed to dir.replaced (if dir exists)
//  2. checkpointDir is renamed to dir
//  3. dir.replaced is removed
//
// with the parent directory synced after each step. A crash at any point
// leaves either the old store (a crash before step 2; Open renames
// dir.replaced back and the checkpoint is still there to install again) or
// the new one (after step 2; Open removes dir.replaced), never a mix.
func InstallCheckpoint(fs vfs.FS, dir, checkpointDir string) error {
	if fs == nil {
		fs = vfs.Default
	}
	if err := recoverInstall(fs, dir); err != nil {
		return err
	}
	if _, err := fs.Stat(checkpointDir); err != nil {
		return fmt.Errorf("storage: install checkpoint: %w", err)
	}
	parent := fs.PathDir(dir)
	hadStore, err := exists(fs, dir)
	if err != nil {
		return err
	}
	if hadStore {
		// Pebble holds this lock while the store is open: taking it refuses
		// to pull a live store out from under its process.
		lock, err := fs.Lock(fs.PathJoin(dir, "LOCK"))
		if err != nil {
			return fmt.Errorf("storage: install checkpoint: store %s is in use: %w", dir, err)
		}
		err = errors.Join(fs.Rename(dir, replacedDir(dir)), lock.Close())
		if err != nil {
			return fmt.Errorf("storage: install checkpoint: %w", err)
		}
		if err := syncDir(fs, parent); err != nil {
			return err
		}
	}
	if err := fs.Rename(checkpointDir, dir); err != nil {
		return fmt.Errorf("storage: install checkpoint: %w", err)
	}
	if err := syncDir(fs, parent); err != nil {
		return err
	}
	if cpParent := fs.PathDir(checkpointDir); cpParent != parent {
		if err := syncDir(fs, cpParent); err != nil {
			return err
		}
	}
	if hadStore {
		return removeReplaced(fs, dir)
	}
	return nil
}

// recoverInstall completes what an interrupted InstallCheckpoint left: with
// dir missing, the replaced store goes back into place; with dir present,
// the replaced store is garbage.
func recoverInstall(fs vfs.FS, dir string) error {
	replaced := replacedDir(dir)
	haveReplaced, err := exists(fs, replaced)
	if err != nil || !haveReplaced {
		return err
	}
	haveDir, err := exists(fs, dir)
	if err != nil {
		return err
	}
	if haveDir {
		return removeReplaced(fs, dir)
	}
	if err := fs.Rename(replaced, dir); err != nil {
		return fmt.Errorf("storage: restore %s after an interrupted checkpoint install: %w", dir, err)
	}
	return syncDir(fs, fs.PathDir(dir))
}

func removeReplaced(fs vfs.FS, dir string) error {
	if err := fs.RemoveAll(replacedDir(dir)); err != nil {
		return fmt.Errorf("storage: remove replaced store: %w", err)
	}
	return syncDir(fs, fs.PathDir(dir))
}

func exists(fs vfs.FS, path string) (bool, error) {
	_, err := fs.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("storage: stat %s: %w", path, err)
}

// syncDir makes renames and removals within dir durable.
func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err == nil {
		err = errors.Join(d.Sync(), d.Close())
	}
	if err != nil {
		return fmt.Errorf("storage: sync dir %s: %w", dir, err)
	}
	return nil
}
