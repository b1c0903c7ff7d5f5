package meta

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// keys is the layout of a cluster's metadata under /<cluster_name>/. It
// follows Pegasus' ZooKeeper layout (apps/<app_id>/<pidx>) so that an
// operator finds things where they expect, with zero-padded numbers so that
// etcd's byte order is numeric order. Values are JSON, readable with
// etcdctl.
//
//	apps/<app_id>           table record (tableRecord)
//	apps/<app_id>/<pidx>    partition configuration (partitionRecord)
//	names/<name>            app id of the live table of that name
//	next_app_id             the next app id to allocate
//	knobs/<name>            runtime knobs set by operators (meta.lb.assign_delay_ms, ...)
//	leader/<lease>          leader election (etcd concurrency.Election)
//	metas/<address>         one record per running meta server, on its session lease
//	cluster_id              the cluster's id: created once by the first meta server, never changed
type keys struct {
	root string
}

func newKeys(cluster string) keys { return keys{root: "/" + cluster + "/"} }

func (k keys) apps() string                     { return k.root + "apps/" }
func (k keys) table(app int32) string           { return fmt.Sprintf("%sapps/%08d", k.root, app) }
func (k keys) partitionPrefix(app int32) string { return k.table(app) + "/" }
func (k keys) partition(g decide.Gpid) string {
	return fmt.Sprintf("%s%08d", k.partitionPrefix(g.AppID), g.Index)
}
func (k keys) name(name string) string               { return k.root + "names/" + name }
func (k keys) nextAppID() string                     { return k.root + "next_app_id" }
func (k keys) clusterID() string                     { return k.root + "cluster_id" }
func (k keys) knobs() string                         { return k.root + "knobs/" }
func (k keys) knob(name string) string               { return k.knobs() + name }
func (k keys) election() string                      { return k.root + "leader" }
func (k keys) metas() string                         { return k.root + "metas/" }
func (k keys) meta(addr string) string               { return k.metas() + addr }
func (k keys) knobName(key string) string            { return strings.TrimPrefix(key, k.knobs()) }
func (k keys) metaAddress(key string) (string, bool) { return strings.CutPrefix(key, k.metas()) }

// parseAppKey splits a key under apps/ into the app id and, for a
// partition record, the partition index.
func (k keys) parseAppKey(key string) (app int32, pidx int32, isPartition bool, err error) {
	rest, ok := strings.CutPrefix(key, k.apps())
	if !ok {
		return 0, 0, false, fmt.Errorf("%w: key %q outside %s", ErrCorruptRecord, key, k.apps())
	}
	appPart, idxPart, isPartition := strings.Cut(rest, "/")
	a, err := strconv.ParseInt(appPart, 10, 32)
	if err != nil || a <= 0 {
		return 0, 0, false, fmt.Errorf("%w: key %q: bad app id", ErrCorruptRecord, key)
	}
	if !isPartition {
		return int32(a), 0, false, nil
	}
	i, err := strconv.ParseInt(idxPart, 10, 32)
	if err != nil || i < 0 {
		return 0, 0, false, fmt.Errorf("%w: key %q: bad partition index", ErrCorruptRecord, key)
	}
	return int32(a), int32(i), true, nil
}

// tableRecord is a table as stored. Field names follow Pegasus' app_info.
type tableRecord struct {
	Name           string            `json:"app_name"`
	AppID          int32             `json:"app_id"`
	PartitionCount int32             `json:"partition_count"`
	ReplicaCount   int32             `json:"max_replica_count"`
	Status         string            `json:"status"`
	Envs           map[string]string `json:"envs,omitempty"`
	EnvsRevision   int64             `json:"envs_revision,omitempty"`
	CreateTimeMs   int64             `json:"create_time_ms"`
	DropTimeMs     int64             `json:"drop_time_ms,omitempty"`
}

func encodeTable(t Table) []byte {
	r := tableRecord{
		Name: t.Name, AppID: t.AppID, PartitionCount: t.PartitionCount, ReplicaCount: t.ReplicaCount,
		Status: t.Status.String(), Envs: t.Envs, EnvsRevision: t.EnvsRevision, CreateTimeMs: t.CreateTime.UnixMilli(),
	}
	if !t.DropTime.IsZero() {
		r.DropTimeMs = t.DropTime.UnixMilli()
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // only plain types above: cannot fail
	}
	return b
}

func decodeTable(key string, b []byte) (Table, error) {
	var r tableRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Table{}, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, key, err)
	}
	st, ok := parseTableStatus(r.Status)
	if !ok || st == TableInvalid || r.AppID <= 0 || r.PartitionCount <= 0 || r.ReplicaCount <= 0 || validateTableName(r.Name) != nil {
		return Table{}, fmt.Errorf("%w: %s: %s", ErrCorruptRecord, key, b)
	}
	t := Table{
		Name: r.Name, AppID: r.AppID, PartitionCount: r.PartitionCount, ReplicaCount: r.ReplicaCount,
		Status: st, Envs: r.Envs, EnvsRevision: r.EnvsRevision, CreateTime: time.UnixMilli(r.CreateTimeMs),
	}
	if r.DropTimeMs != 0 {
		t.DropTime = time.UnixMilli(r.DropTimeMs)
	}
	return t, nil
}

// partitionRecord is a partition configuration as stored, with Pegasus'
// partition_configuration field names.
type partitionRecord struct {
	AppID               int32    `json:"app_id"`
	PartitionIndex      int32    `json:"partition_index"`
	Ballot              int64    `json:"ballot"`
	MaxReplicaCount     int32    `json:"max_replica_count"`
	Primary             string   `json:"primary,omitempty"`
	Secondaries         []string `json:"secondaries,omitempty"`
	Learners            []string `json:"learners,omitempty"`
	LastDrops           []string `json:"last_drops,omitempty"`
	LastCommittedDecree int64    `json:"last_committed_decree"`
	// LastDropDetails parallels LastDrops (decide.DropDetail). Records
	// written before it existed have none; a meta server of that version
	// ignores it and writes records without it.
	LastDropDetails []dropRecord `json:"last_drop_details,omitempty"`
}

type dropRecord struct {
	MemberBallot     int64  `json:"member_ballot"`
	Incarnation      uint64 `json:"incarnation,omitempty"`
	MinPrimaryBallot int64  `json:"min_primary_ballot,omitempty"`
}

func encodePartition(c decide.PartitionConfig) []byte {
	b, err := json.Marshal(partitionRecord{
		AppID: c.Gpid.AppID, PartitionIndex: c.Gpid.Index, Ballot: c.Ballot, MaxReplicaCount: c.MaxReplicaCount,
		Primary: c.Primary, Secondaries: c.Secondaries, Learners: c.Learners, LastDrops: c.LastDrops,
		LastCommittedDecree: c.LastCommittedDecree, LastDropDetails: dropRecords(c.LastDropDetails),
	})
	if err != nil {
		panic(err) // only plain types above: cannot fail
	}
	return b
}

// decodePartition decodes and checks a partition record; the gpid must be
// the one its key names.
func decodePartition(key string, want decide.Gpid, b []byte) (decide.PartitionConfig, error) {
	var r partitionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, key, err)
	}
	c := decide.PartitionConfig{
		Gpid: decide.Gpid{AppID: r.AppID, Index: r.PartitionIndex}, Ballot: r.Ballot, MaxReplicaCount: r.MaxReplicaCount,
		Primary: r.Primary, Secondaries: r.Secondaries, Learners: r.Learners, LastDrops: r.LastDrops,
		LastCommittedDecree: r.LastCommittedDecree,
	}
	for _, d := range r.LastDropDetails {
		c.LastDropDetails = append(c.LastDropDetails, decide.DropDetail{MemberBallot: d.MemberBallot, Incarnation: d.Incarnation, MinPrimaryBallot: d.MinPrimaryBallot})
	}
	if c.Gpid != want {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s holds partition %s", ErrCorruptRecord, key, c.Gpid)
	}
	if c.Ballot < 0 {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s: ballot %d", ErrCorruptRecord, key, c.Ballot)
	}
	if err := c.Check(); err != nil {
		return decide.PartitionConfig{}, fmt.Errorf("%w: %s: %w", ErrCorruptRecord, key, err)
	}
	return c, nil
}

func dropRecords(ds []decide.DropDetail) []dropRecord {
	if len(ds) == 0 {
		return nil
	}
	out := make([]dropRecord, len(ds))
	for i, d := range ds {
		out[i] = dropRecord{MemberBallot: d.MemberBallot, Incarnation: d.Incarnation, MinPrimaryBallot: d.MinPrimaryBallot}
	}
	return out
}

// metaRecord describes one running meta server (metas/<address>).
type metaRecord struct {
	Address         string `json:"address"`
	HTTPAddress     string `json:"http_address,omitempty"`
	PegasusAddress  string `json:"pegasus_address,omitempty"`
	ProtocolVersion string `json:"protocol_version"`
	BinaryVersion   string `json:"binary_version"`
	StartTimeMs     int64  `json:"start_time_ms"`
}
