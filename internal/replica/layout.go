package replica

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// On-disk layout of a replica server's data_dir:
//
//	<data_dir>/<app_id>.<pidx>/            one partition replica
//	    replica-info.json                  identity, table shape, persisted ballot
//	    plog/                              mutation log (internal/mutlog)
//	    data/                              Pebble store, WAL off (internal/storage)
//	    learn.<n>/                         checkpoint being received (learner)
//	    checkpoint.<n>/                    checkpoint being sent (primary)
//	<data_dir>/<app_id>.<pidx>.<ts>.gar/   a replica the meta server disowned,
//	                                       kept for gc_disk_garbage_replica_interval_seconds
//	<data_dir>/cluster_id                  the cluster this server joined
//
// Temporary directories are removed when the replica opens; .gar
// directories once past their retention (garbage.go).

const (
	infoFileName      = "replica-info.json"
	logDirName        = "plog"
	storeDirName      = "data"
	learnDirPrefix    = "learn."
	checkpointDirPref = "checkpoint."
)

// gpid names a partition: table (app) id and partition index, printed the
// Pegasus way, "app.pidx".
type gpid struct {
	app, index int32
}

func (g gpid) String() string { return fmt.Sprintf("%d.%d", g.app, g.index) }

func (g gpid) pb() *pb.Gpid { return &pb.Gpid{AppId: g.app, PartitionIndex: g.index} }

func gpidFromPB(p *pb.Gpid) (gpid, error) {
	if p == nil {
		return gpid{}, errorf(ErrInvalidRequest, "missing gpid")
	}
	if p.GetAppId() <= 0 || p.GetPartitionIndex() < 0 {
		return gpid{}, errorf(ErrInvalidRequest, "gpid %d.%d", p.GetAppId(), p.GetPartitionIndex())
	}
	return gpid{app: p.GetAppId(), index: p.GetPartitionIndex()}, nil
}

// parseReplicaDir recognises a partition directory name.
func parseReplicaDir(name string) (gpid, bool) {
	a, i, ok := strings.Cut(name, ".")
	if !ok {
		return gpid{}, false
	}
	app, err1 := strconv.ParseInt(a, 10, 32)
	idx, err2 := strconv.ParseInt(i, 10, 32)
	if err1 != nil || err2 != nil || app <= 0 || idx < 0 || name != fmt.Sprintf("%d.%d", app, idx) {
		return gpid{}, false
	}
	return gpid{app: int32(app), index: int32(idx)}, true
}

// replicaInfo is what a replica directory records besides its log and
// store: which partition it is, the shape of its table (so that a restarted
// server routes and counts members before the meta server has said
// anything), the copy's incarnation, and the core's HardState.
type replicaInfo struct {
	AppID           int32 `json:"app_id"`
	PartitionIndex  int32 `json:"partition_index"`
	PartitionCount  int32 `json:"partition_count"`
	MaxReplicaCount int32 `json:"max_replica_count"`
	// Incarnation names this copy of the partition: drawn when the
	// directory is created, never changed. A directory written by a
	// version without it gets one when first opened.
	Incarnation uint64 `json:"incarnation,omitempty"`
	// The core's HardState: Ballot (the records of the log are filed
	// under it), the primary of that ballot, the highest ballot this copy
	// was a member of, and the other primaries it holds promises for.
	Ballot       int64        `json:"ballot"`
	Primary      string       `json:"primary,omitempty"`
	MemberBallot int64        `json:"member_ballot,omitempty"`
	Holds        []holdRecord `json:"holds,omitempty"`
}

type holdRecord struct {
	Primary string `json:"primary"`
	Ballot  int64  `json:"ballot"`
}

// hardState is the core's HardState as the info file records it.
func (i replicaInfo) hardState() pacifica.HardState {
	h := pacifica.HardState{Ballot: pacifica.Ballot(i.Ballot), Primary: pacifica.NodeID(i.Primary),
		MemberBallot: pacifica.Ballot(i.MemberBallot)}
	for _, r := range i.Holds {
		h.Holds = append(h.Holds, pacifica.HoldRef{Primary: pacifica.NodeID(r.Primary), Ballot: pacifica.Ballot(r.Ballot)})
	}
	return h
}

// withHardState returns i recording h.
func (i replicaInfo) withHardState(h pacifica.HardState) replicaInfo {
	i.Ballot, i.Primary, i.MemberBallot = int64(h.Ballot), string(h.Primary), int64(h.MemberBallot)
	i.Holds = nil
	for _, r := range h.Holds {
		i.Holds = append(i.Holds, holdRecord{Primary: string(r.Primary), Ballot: int64(r.Ballot)})
	}
	return i
}

func (i replicaInfo) gpid() gpid { return gpid{app: i.AppID, index: i.PartitionIndex} }

func (i replicaInfo) validate() error {
	if i.AppID <= 0 || i.PartitionIndex < 0 || i.PartitionCount <= i.PartitionIndex ||
		i.MaxReplicaCount < 1 || i.Ballot < 0 || i.MemberBallot < 0 || i.MemberBallot > i.Ballot {
		return errorf(ErrCorruptInfo, "%+v", i)
	}
	return nil
}

// readReplicaInfo reads dir's info file.
func readReplicaInfo(fs vfs.FS, dir string) (replicaInfo, error) {
	f, err := fs.Open(fs.PathJoin(dir, infoFileName))
	if err != nil {
		return replicaInfo{}, fmt.Errorf("replica: open info of %s: %w", dir, err)
	}
	defer f.Close()
	var info replicaInfo
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		return replicaInfo{}, errorf(ErrCorruptInfo, "%s: %v", dir, err)
	}
	return info, info.validate()
}

// writeReplicaInfo replaces dir's info file atomically and durably: written
// to a temporary file, synced, renamed over the old one, directory synced.
// A crash leaves the old or the new file, never a mix.
func writeReplicaInfo(fs vfs.FS, dir string, info replicaInfo) error {
	if err := info.validate(); err != nil {
		return err
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("replica: encode info: %w", err)
	}
	if err := writeFileAtomic(fs, dir, infoFileName, append(data, '\n')); err != nil {
		return fmt.Errorf("replica: write info of %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces dir/name atomically and durably: written to a
// temporary file, synced, renamed over the old one, directory synced. A
// crash leaves the old or the new file, never a mix.
func writeFileAtomic(fs vfs.FS, dir, name string, data []byte) error {
	tmp := fs.PathJoin(dir, name+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = fs.Rename(tmp, fs.PathJoin(dir, name))
	}
	if err == nil {
		err = syncDir(fs, dir)
	}
	return err
}

// syncDir makes creations, renames and removals in dir durable.
func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// removeTemporaries deletes the half-received and half-sent checkpoints a
// previous run of the replica left in dir.
func removeTemporaries(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("replica: list %s: %w", dir, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, learnDirPrefix) || strings.HasPrefix(n, checkpointDirPref) ||
			strings.HasSuffix(n, ".tmp") {
			if err := fs.RemoveAll(fs.PathJoin(dir, n)); err != nil {
				return fmt.Errorf("replica: remove %s: %w", n, err)
			}
		}
	}
	return nil
}

// isNotExist reports whether err says a file is missing.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
