package meta

import (
	"context"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Store is where the cluster's metadata lives: etcd in production
// (EtcdStore), memory in tests (MemStore). One Store value belongs to one
// leadership term: every write is fenced by the term, and a write after
// another meta server was elected fails with ErrLostLeadership, so a
// deposed leader that has not noticed yet cannot change anything.
//
// Partition writes are compare-and-swap on the record's revision, the
// store's version of the record as last read or written. Every write of a
// partition record writes ballot+1, so an unchanged revision means an
// unchanged ballot: two writers that computed a change against the same
// ballot cannot both succeed, and ballots only increase.
type Store interface {
	// Load reads everything the leader caches, as of one point in time.
	Load(ctx context.Context) (*Snapshot, error)

	// CreateTable allocates the next app id and writes t with it (status
	// TableCreating is expected), reserving the name. It fails with
	// ErrTableExists if a table that is not dropped has the name.
	CreateTable(ctx context.Context, t Table) (Table, error)
	// CreatePartitions writes the records of new partitions; none may
	// exist. It returns each record's revision, in order.
	CreatePartitions(ctx context.Context, parts []decide.PartitionConfig) ([]int64, error)
	// UpdateTable rewrites an existing table's record (a status change).
	UpdateTable(ctx context.Context, t Table) error
	// DropTable writes t (status TableDropped), releases its name and
	// deletes its partitions, in one transaction.
	DropTable(ctx context.Context, t Table) error

	// UpdatePartition writes next if the record's revision is still rev,
	// and returns the new revision. Otherwise it fails with a
	// *ConflictError holding what is stored.
	UpdatePartition(ctx context.Context, rev int64, next decide.PartitionConfig) (int64, error)

	// SetKnob stores a runtime knob (decide's knob names, the meta level
	// included); value "" deletes it, so the configuration file's value
	// applies again.
	SetKnob(ctx context.Context, name, value string) error
}

// Snapshot is the store's content.
type Snapshot struct {
	// Tables holds every table, dropped ones included, by app id.
	Tables []Table
	// Partitions holds every partition of the tables not dropped.
	Partitions []StoredPartition
	// Knobs maps knob names to stored values.
	Knobs map[string]string
}

// StoredPartition is a partition record and its revision.
type StoredPartition struct {
	Config decide.PartitionConfig
	Rev    int64
}
