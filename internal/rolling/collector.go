package rolling

import (
	"context"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Collector is the cluster's availability collector, when one runs: the
// orchestrator reads its availability (the roll pauses while it is low and
// counts client errors per node) and posts its progress to it, for the
// collector's cluster page.
type Collector interface {
	// Node is the collector's address, its name in the plan.
	Node() string
	// Status is the collector's current report.
	Status(ctx context.Context) (plan.CollectorStatus, error)
	// Version is the protocol version the collector speaks.
	Version(ctx context.Context) (string, error)
	// PostProgress publishes the roll's progress. Best effort: the
	// orchestrator ignores its error.
	PostProgress(ctx context.Context, p Progress) error
}
