package scenario

import (
	"context"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Role is the kind of a server process of the cluster under test.
type Role string

// Roles scenarios act on.
const (
	RoleMeta    Role = "meta"
	RoleReplica Role = "replica"
	RoleEtcd    Role = "etcd"
)

// Cluster is the system under test as a scenario acts on it: named server
// processes that can be crashed, stopped and started, and a notion of
// "fully healthy". Methods are safe for concurrent use and honour ctx.
type Cluster interface {
	// Describe names the cluster for the report, e.g. "pegasus onebox:
	// 2 meta servers, 3 replica servers".
	Describe() string
	// Nodes lists the processes of one role by name, in a stable order.
	Nodes(role Role) []string
	// Kill kills node with SIGKILL, as a crash would, and returns once it
	// is gone. Its data stays.
	Kill(ctx context.Context, node string) error
	// Stop stops node gracefully (SIGTERM) and returns once it is gone.
	Stop(ctx context.Context, node string) error
	// Start starts node unless it runs and returns once it serves.
	Start(ctx context.Context, node string) error
	// WaitHealthy returns nil once the cluster is fully healthy: every
	// process runs and, for a Pegasus cluster, every partition of every
	// table has its primary and all its secondaries.
	WaitHealthy(ctx context.Context) error
}

// Freezer suspends and resumes processes (SIGSTOP, SIGCONT). A frozen
// process keeps its sockets open and answers nothing, which peers and
// clients cannot tell from a network cut around it.
type Freezer interface {
	Freeze(ctx context.Context, node string) error
	Thaw(ctx context.Context, node string) error
}

// NetworkCutter cuts a node off the network while it keeps running, and
// heals it. Unlike a freeze, the node's own timers go on: a cut-off
// primary sees its lease expire and must stop serving by itself.
type NetworkCutter interface {
	// CutMethod says how Cut cuts, for the report, or returns an error
	// wrapping ErrUnsupported when this cluster cannot cut (a onebox whose
	// servers all share the loopback interface).
	CutMethod() (string, error)
	// Cut isolates node in both directions; Heal reconnects it. Healing a
	// node that is not cut does nothing.
	Cut(ctx context.Context, node string) error
	Heal(ctx context.Context, node string) error
}

// LeaderFinder names the current leader among the processes of a role
// (the meta server leader, the etcd leader).
type LeaderFinder interface {
	Leader(ctx context.Context, role Role) (string, error)
}

// PrimaryFinder names the replica server that holds the most primaries of
// the benchmark table: the node whose loss hurts clients most.
type PrimaryFinder interface {
	Primary(ctx context.Context) (node string, primaries int, err error)
}

// Roller runs the cluster's own rolling update (restart every server,
// node by node, by the given procedure) and returns when it is done.
type Roller interface {
	RollingUpdate(ctx context.Context, mode plan.Mode) error
}
