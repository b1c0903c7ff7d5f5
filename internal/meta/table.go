package meta

import (
	"fmt"
	"maps"
	"time"

	"github.com/pegasus-go/pegasus/internal/appenv"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// TableStatus is a table's lifecycle state, numbered as Pegasus'
// app_status and the rpc TableStatus enum.
type TableStatus int32

const (
	TableInvalid TableStatus = iota
	// TableAvailable: the table serves; its partitions are in the cure loop.
	TableAvailable
	// TableCreating: the table's record is written but not every partition
	// is yet. A new leader that finds one completes it.
	TableCreating
	// TableDropping is Pegasus' intermediate drop state. Dropping is one
	// etcd transaction here, so it is never stored; it exists to keep the
	// numbering.
	TableDropping
	// TableDropped: the table's partitions are deleted; the record stays
	// for the operator's history and frees its name.
	TableDropped
)

var tableStatusNames = [...]string{
	TableInvalid:   "INVALID",
	TableAvailable: "AVAILABLE",
	TableCreating:  "CREATING",
	TableDropping:  "DROPPING",
	TableDropped:   "DROPPED",
}

// String returns the name `ls` prints, e.g. "AVAILABLE".
func (s TableStatus) String() string {
	if s >= 0 && int(s) < len(tableStatusNames) {
		return tableStatusNames[s]
	}
	return fmt.Sprintf("TableStatus(%d)", int32(s))
}

func parseTableStatus(s string) (TableStatus, bool) {
	for i, n := range tableStatusNames {
		if n == s {
			return TableStatus(i), true
		}
	}
	return TableInvalid, false
}

// Table is one table (Pegasus app) of the catalogue.
type Table struct {
	Name  string
	AppID int32
	// PartitionCount is a power of two.
	PartitionCount int32
	// ReplicaCount is every partition's max_replica_count.
	ReplicaCount int32
	Status       TableStatus
	Envs         map[string]string
	// EnvsRevision counts the changes of Envs since creation (see
	// UpdateAppEnv); replica servers keep the newest they are sent.
	EnvsRevision int64
	CreateTime   time.Time
	// DropTime is zero unless Status is TableDropped.
	DropTime time.Time
}

// Clone returns a copy that shares nothing with t.
func (t Table) Clone() Table {
	t.Envs = maps.Clone(t.Envs)
	return t
}

// Limits of a table definition.
const (
	maxTableNameLen = 128
	// maxPartitionCount bounds one table. Pegasus has no hard limit; this
	// keeps a typo (a count of 2^30) from writing a billion keys to etcd.
	maxPartitionCount = 1 << 16
	// maxEnvs and maxEnvBytes bound a table's environment variables, which
	// are stored in the table's etcd record and sent in beacon answers.
	maxEnvs     = 256
	maxEnvBytes = 64 << 10
)

// CreateTableRequest is what create_app asks for.
type CreateTableRequest struct {
	Name           string
	PartitionCount int32
	ReplicaCount   int32
	Envs           map[string]string
}

// validate checks everything that does not depend on the cluster's state.
func (r CreateTableRequest) validate() error {
	if err := validateTableName(r.Name); err != nil {
		return err
	}
	if !pegasusrpc.IsPowerOfTwo(r.PartitionCount) {
		return fmt.Errorf("%w: %d (Pegasus clients route a key to partition hash%%count, which needs a power of two: 1, 2, 4, 8, ...)",
			ErrPartitionCountNotPowerOfTwo, r.PartitionCount)
	}
	if r.PartitionCount > maxPartitionCount {
		return fmt.Errorf("%w: partition count %d above the limit of %d", ErrInvalidArgument, r.PartitionCount, maxPartitionCount)
	}
	if r.ReplicaCount < 1 {
		return fmt.Errorf("%w: %d, need at least 1", ErrInvalidReplicaCount, r.ReplicaCount)
	}
	size := 0
	for k, v := range r.Envs {
		if k == "" {
			return fmt.Errorf("%w: empty env name", ErrInvalidArgument)
		}
		size += len(k) + len(v)
	}
	if len(r.Envs) > maxEnvs || size > maxEnvBytes {
		return fmt.Errorf("%w: %d envs of %d bytes, at most %d envs of %d bytes", ErrInvalidArgument, len(r.Envs), size, maxEnvs, maxEnvBytes)
	}
	if err := appenv.ValidateKnown(r.Envs); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return nil
}

// validateTableName accepts what Pegasus accepts and what an etcd key
// segment can hold: letters, digits, '_', '.', '-'.
func validateTableName(name string) error {
	if name == "" || len(name) > maxTableNameLen {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrInvalidTableName, name, maxTableNameLen)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return fmt.Errorf("%w: %q: only letters, digits, '_', '.' and '-' are allowed", ErrInvalidTableName, name)
		}
	}
	return nil
}
