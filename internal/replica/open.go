package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// openPartition opens the replica whose identity info gives, creating its
// directory if create is set, replays its log and starts its goroutine. The
// replica starts inactive and waits for the meta server's configuration.
//
// Restart cost is the replay: the store on disk holds everything up to its
// durable decree (a prefix of what was applied, since its WAL is off), and
// only log records past it are read. A replica closed by kill_partition or
// a graceful shutdown flushed its store first and replays nothing.
func (s *Server) openPartition(info replicaInfo, create bool) (*partition, error) {
	began := time.Now()
	g := info.gpid()
	dir := s.replicaDir(g)
	fs := s.fs
	if create {
		if err := fs.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("replica: create %s: %w", dir, err)
		}
		if _, err := fs.Stat(fs.PathJoin(dir, infoFileName)); isNotExist(err) {
			info.Incarnation = newIncarnation()
			if err := writeReplicaInfo(fs, dir, info); err != nil {
				return nil, err
			}
			if err := syncDir(fs, s.cfg.DataDir); err != nil {
				return nil, fmt.Errorf("replica: sync %s: %w", s.cfg.DataDir, err)
			}
		}
	}
	stored, err := readReplicaInfo(fs, dir)
	if err != nil {
		return nil, err
	}
	if stored.gpid() != g {
		return nil, errorf(ErrCorruptInfo, "%s holds partition %s", dir, stored.gpid())
	}
	if stored.Incarnation == 0 {
		// Written by a version without incarnations: this copy gets its
		// name now, before it says anything to anyone.
		stored.Incarnation = newIncarnation()
		if err := writeReplicaInfo(fs, dir, stored); err != nil {
			return nil, err
		}
	}
	if err := removeTemporaries(fs, dir); err != nil {
		return nil, err
	}

	store, err := storage.Open(fs.PathJoin(dir, storeDirName), s.storeOptions())
	if err != nil {
		return nil, err
	}
	plog, err := mutlog.Open(fs, fs.PathJoin(dir, logDirName), s.logOptions(g))
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	durable := store.LastAppliedDecree()
	core, replayed, err := RecoverCore(s.coreConfig(stored), stored.hardState(), durable, plog, s.mono())
	if err == nil {
		p := &partition{
			srv:              s,
			g:                g,
			dir:              dir,
			log:              s.log.With("gpid", g.String()),
			partitionCount:   stored.PartitionCount,
			core:             core,
			minPrimaryBallot: core.MinPrimaryBallot(),
			plog:             plog,
			info:             stored,
			incarnation:      stored.Incarnation,
		}
		p.store.Store(store)
		p.stats.openDuration = time.Since(began)
		p.stats.replayedEntries = replayed
		p.log.Info("partition replica opened", "durable_decree", durable, "replayed", replayed,
			"ballot", stored.Ballot, "took", p.stats.openDuration.Round(time.Microsecond))
		p.start()
		return p, nil
	}
	return nil, errors.Join(fmt.Errorf("replica: open %s: %w", g, err), plog.Close(), store.Close())
}

// LogReplayer is what recovery reads from a mutation log: *mutlog.Log, or
// the disk model of the whole-system simulation (internal/sim), which keeps
// records in mutlog's format and with its supersede rules.
type LogReplayer interface {
	// Replay calls fn with the effective record of every decree >= from,
	// in increasing decree order (mutlog.Log.Replay).
	Replay(from int64, fn func(mutlog.Record) error) error
}

// RecoverCore rebuilds a replica's core from what survived on its disk: the
// core's HardState (the info file), the store's durable decree (a prefix of
// what was applied, since the store's WAL is off) and the log records past
// it. Only those records are replayed: a crash loses what the store had
// applied beyond its durable decree, and the log still holds it. The core's
// request-id table (exactly-once) is rebuilt from the replayed entries
// alone. now is the server's monotonic clock (see pacifica.New). It returns
// the core and the number of entries replayed. The replica server and the
// simulation both open replicas through it.
func RecoverCore(cfg pacifica.Config, hard pacifica.HardState, durable int64, log LogReplayer,
	now pacifica.Time) (*pacifica.Replica, int, error) {
	entries, err := replay(log, durable)
	if err != nil {
		return nil, 0, err
	}
	core, err := pacifica.New(cfg, pacifica.DurableState{
		HardState:     hard,
		AppliedDecree: pacifica.Decree(durable),
		Entries:       entries,
	}, now)
	if err != nil {
		return nil, 0, err
	}
	return core, len(entries), nil
}

// newIncarnation draws the name of a new copy of a partition: random, so
// that a directory deleted and created again, on this server or a
// restored one, never gets the name of the copy it replaces.
func newIncarnation() uint64 {
	for {
		if n := rand.Uint64(); n != 0 {
			return n
		}
	}
}

// replay returns the effective log entries after decree durable. They must
// be contiguous: the log is only ever cut below the store's durable decree,
// so a hole means damage, and the replica must not guess past it.
func replay(plog LogReplayer, durable int64) ([]pacifica.Entry, error) {
	var entries []pacifica.Entry
	next := durable + 1
	err := plog.Replay(next, func(rec mutlog.Record) error {
		if rec.Decree != next {
			return errorf(ErrCorruptLog, "log jumps from decree %d to %d", next-1, rec.Decree)
		}
		e, err := decodeLogEntry(rec)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		next++
		return nil
	})
	return entries, err
}
