package replica

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Garbage replicas: nothing is deleted on one message.
//
// A replica the meta server disowns (a beacon answer's remove list: its
// table was dropped, or the partition was placed elsewhere) is closed and
// its directory renamed to <app_id>.<pidx>.<unix_us>.gar, Pegasus' naming
// (Pegasus appends ".<timestamp_us>.gar" to the replica directory). The
// rename is synced, so after a crash the replica is garbage or intact,
// never half. Garbage is deleted only once it is older than
// gc_disk_garbage_replica_interval_seconds (Pegasus' name and default, one
// day), by a scan every disk_stat_interval_seconds. Until then an operator
// can still copy the data back by hand after a wrong drop or a
// misconfigured meta server.
//
// A partition named again by the meta server after its replica was moved
// aside gets a fresh, empty replica that learns from the primary, like any
// new replica. The .gar copy is never revived automatically: it was
// disowned at some ballot, and whatever the meta server decided since (the
// partition may have moved on and even been dropped and recreated with the
// same gpid) is unknown to it; reviving it would need the same checks as a
// learner's catch-up, which learning already does from a sound source.
//
// A replica found corrupt when it opens (corrupt.go) goes the same way
// under Pegasus' other suffix, <app_id>.<pidx>.<unix_us>.err, kept for
// gc_disk_error_replica_interval_seconds (Pegasus' default, a week) for
// inspection: it may hold the only copy of acknowledged writes, which an
// operator can still salvage by hand.

// garbageSuffix ends the directory name of a replica moved aside because
// the meta server disowned it; errorSuffix that of a corrupt one.
const (
	garbageSuffix = ".gar"
	errorSuffix   = ".err"
)

// garbageDir is one .gar directory.
type garbageDir struct {
	Name string `json:"name"`
	Gpid string `json:"gpid"`
	// Kind is "gar" (disowned) or "err" (corrupt).
	Kind    string    `json:"kind"`
	MovedAt time.Time `json:"moved_at"`
	Bytes   int64     `json:"bytes"`
	// CollectAfter is when the scan may delete it.
	CollectAfter time.Time `json:"collect_after"`
}

// garbageState is what the server knows of its .gar directories.
type garbageState struct {
	mu   sync.Mutex
	dirs map[string]garbageDir
}

// garbageName returns the .gar name of replica g moved aside at t.
func garbageName(g gpid, t time.Time) string {
	return asideName(g, t, garbageSuffix)
}

// asideName names replica g moved aside at t with suffix (.gar or .err).
func asideName(g gpid, t time.Time, suffix string) string {
	return fmt.Sprintf("%s.%d%s", g, t.UnixMicro(), suffix)
}

// parseGarbageName recognises a .gar or .err directory and returns its
// kind ("gar" or "err"). Names of the older "<gpid>.gar.<unix_ns>" form
// (left by a crash in the middle of a removal before garbage was kept) are
// garbage too.
func parseGarbageName(name string) (g gpid, movedAt time.Time, kind string, ok bool) {
	for _, suffix := range []string{garbageSuffix, errorSuffix} {
		rest, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return gpid{}, time.Time{}, "", false
		}
		us, err := strconv.ParseInt(rest[i+1:], 10, 64)
		g, gok := parseReplicaDir(rest[:i])
		if err != nil || !gok {
			return gpid{}, time.Time{}, "", false
		}
		return g, time.UnixMicro(us), suffix[1:], true
	}
	if base, ns, found := strings.Cut(name, garbageSuffix+"."); found {
		n, err := strconv.ParseInt(ns, 10, 64)
		g, gok := parseReplicaDir(base)
		if err != nil || !gok {
			return gpid{}, time.Time{}, "", false
		}
		return g, time.Unix(0, n), garbageSuffix[1:], true
	}
	return gpid{}, time.Time{}, "", false
}

// retention returns how long a directory of kind ("gar" or "err") is kept.
func (s *Server) retention(kind string) time.Duration {
	if kind == errorSuffix[1:] {
		return time.Duration(s.cfg.GCDiskErrorReplicaIntervalSeconds) * time.Second
	}
	return time.Duration(s.cfg.GCDiskGarbageReplicaIntervalSeconds) * time.Second
}

// moveAside renames replica g's closed directory to a .gar name and
// records it. The replica must be closed.
func (s *Server) moveAside(g gpid, dir string) error {
	name, bytes, err := s.renameAside(g, dir, garbageSuffix)
	if err != nil {
		return err
	}
	s.log.Warn("replica disowned by the meta server moved aside", "gpid", g.String(), "dir", name, "bytes", bytes,
		"collect_after", time.Now().Add(s.retention("gar")).UTC())
	return nil
}

// renameAside renames dir to g's name with suffix, syncs data_dir, counts
// and records it.
func (s *Server) renameAside(g gpid, dir, suffix string) (name string, bytes int64, err error) {
	now := time.Now()
	name = asideName(g, now, suffix)
	bytes = dirSize(s.fs, dir)
	if err := s.fs.Rename(dir, s.fs.PathJoin(s.cfg.DataDir, name)); err != nil {
		return "", 0, err
	}
	if err := syncDir(s.fs, s.cfg.DataDir); err != nil {
		return "", 0, err
	}
	s.opts.Metrics.GarbageMoved.Inc()
	s.opts.Metrics.GarbageMovedBytes.Add(float64(bytes))
	s.noteGarbage(garbageDir{Name: name, Gpid: g.String(), Kind: suffix[1:], MovedAt: now, Bytes: bytes})
	return name, bytes, nil
}

func (s *Server) noteGarbage(d garbageDir) {
	d.CollectAfter = d.MovedAt.Add(s.retention(d.Kind))
	s.garbage.mu.Lock()
	defer s.garbage.mu.Unlock()
	if s.garbage.dirs == nil {
		s.garbage.dirs = make(map[string]garbageDir)
	}
	s.garbage.dirs[d.Name] = d
	s.refreshGarbageGaugesLocked()
}

func (s *Server) refreshGarbageGaugesLocked() {
	var bytes int64
	for _, d := range s.garbage.dirs {
		bytes += d.Bytes
	}
	s.opts.Metrics.GarbageReplicas.Set(float64(len(s.garbage.dirs)))
	s.opts.Metrics.GarbageBytes.Set(float64(bytes))
}

// garbageList returns the .gar directories, oldest first.
func (s *Server) garbageList() []garbageDir {
	s.garbage.mu.Lock()
	out := make([]garbageDir, 0, len(s.garbage.dirs))
	for _, d := range s.garbage.dirs {
		out = append(out, d)
	}
	s.garbage.mu.Unlock()
	slices.SortFunc(out, func(a, b garbageDir) int { return a.MovedAt.Compare(b.MovedAt) })
	return out
}

// collectGarbage lists data_dir, records every .gar directory and deletes
// those past the retention.
func (s *Server) collectGarbage(now time.Time) {
	names, err := s.fs.List(s.cfg.DataDir)
	if err != nil {
		s.log.Warn("scanning data_dir for garbage failed", "err", err)
		return
	}
	found := make(map[string]garbageDir)
	for _, name := range names {
		g, movedAt, kind, ok := parseGarbageName(name)
		if !ok {
			continue
		}
		d := garbageDir{Name: name, Gpid: g.String(), Kind: kind, MovedAt: movedAt, CollectAfter: movedAt.Add(s.retention(kind))}
		if now.Before(d.CollectAfter) {
			d.Bytes = dirSize(s.fs, s.fs.PathJoin(s.cfg.DataDir, name))
			found[name] = d
			continue
		}
		if err := s.fs.RemoveAll(s.fs.PathJoin(s.cfg.DataDir, name)); err != nil {
			s.log.Warn("deleting a garbage replica failed", "dir", name, "err", err)
			found[name] = d
			continue
		}
		s.opts.Metrics.GarbageCollected.Inc()
		s.log.Info("garbage replica deleted after its retention", "dir", name, "moved_at", movedAt.UTC())
	}
	s.garbage.mu.Lock()
	s.garbage.dirs = found
	s.refreshGarbageGaugesLocked()
	s.garbage.mu.Unlock()
}

// runGarbageCollector scans data_dir every disk_stat_interval_seconds.
func (s *Server) runGarbageCollector(ctx context.Context) {
	t := time.NewTicker(time.Duration(s.cfg.DiskStatIntervalSeconds) * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.collectGarbage(time.Now())
		}
	}
}

// dirSize adds up the sizes of the files under dir; errors count as zero
// (the size is for display and metrics only).
func dirSize(fs vfs.FS, dir string) int64 {
	names, err := fs.List(dir)
	if err != nil {
		return 0
	}
	var total int64
	for _, n := range names {
		p := fs.PathJoin(dir, n)
		st, err := fs.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			total += dirSize(fs, p)
		} else {
			total += st.Size()
		}
	}
	return total
}
