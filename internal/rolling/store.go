package rolling

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// recordFormat versions Record. The machine's State carries its own format.
const recordFormat = 1

// Record is what the store keeps at /<cluster>/rolling/state: the machine's
// state (which holds the plan) and how the roll reaches the cluster, so a
// `resume` needs no flags repeated.
type Record struct {
	Format  int        `json:"format"`
	Run     RunSpec    `json:"run"`
	State   plan.State `json:"state"`
	Updated time.Time  `json:"updated"`
	// Holder is the orchestrator that wrote the record last.
	Holder Holder `json:"holder"`
}

// RunSpec is how the roll reaches the cluster and its nodes.
type RunSpec struct {
	Metas         []string      `json:"metas"`
	EtcdEndpoints []string      `json:"etcd_endpoints,omitempty"`
	Collector     string        `json:"collector,omitempty"` // base URL
	Control       string        `json:"control"`             // "onebox:<dir>" or "exec"
	Exec          ExecTemplates `json:"exec,omitzero"`
	Artifacts     Artifacts     `json:"artifacts,omitzero"`
	// Previous is what a rollback installs back: per node (what node
	// control reported before the roll, a onebox), else for every node
	// (--previous-binary, --previous-config-dir with exec control).
	Previous       Artifacts            `json:"previous,omitzero"`
	PreviousByNode map[string]Artifacts `json:"previous_by_node,omitempty"`
}

// PreviousOf is what a rollback installs on node; empty when unknown.
func (r RunSpec) PreviousOf(node string) Artifacts {
	if a, ok := r.PreviousByNode[node]; ok && !a.Empty() {
		return a
	}
	return r.Previous
}

// decodeRecord parses a stored record.
func decodeRecord(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if r.Format != recordFormat {
		return Record{}, fmt.Errorf("%w: format %d, want %d", ErrInvalidRecord, r.Format, recordFormat)
	}
	return r, nil
}

// Holder identifies an orchestrator process.
type Holder struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// ThisProcess is the holder identity of the calling process.
func ThisProcess(now time.Time) Holder {
	host, _ := os.Hostname()
	return Holder{Host: host, PID: os.Getpid(), Started: now}
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d on %s, running since %s", h.PID, h.Host, h.Started.Format(time.RFC3339))
}

// RequestOp is an operator's command to a running orchestrator.
type RequestOp string

const (
	RequestPause  RequestOp = "pause"
	RequestResume RequestOp = "resume"
	RequestAbort  RequestOp = "abort"
	// RequestRollback takes the nodes upgraded so far back to the
	// previous version.
	RequestRollback RequestOp = "rollback"
)

// Request is an operator's command, written by `pegasus rolling-update
// pause|resume|abort` from another terminal.
type Request struct {
	Op     RequestOp `json:"op"`
	Reason string    `json:"reason,omitempty"`
	From   Holder    `json:"from"`
	At     time.Time `json:"at"`
}

// Store keeps the roll's record, its lock and the operator's requests.
type Store interface {
	// Load returns the stored record; ErrNoRoll when there is none.
	Load(ctx context.Context) (Record, error)
	// Holder returns the orchestrator holding the lock, if any.
	Holder(ctx context.Context) (Holder, bool, error)
	// Acquire takes the lock for h. It fails at once with a *LockedError
	// when another orchestrator holds it. Pending requests addressed to a
	// previous holder are discarded.
	Acquire(ctx context.Context, h Holder) (Session, error)
	// Request hands req to the orchestrator holding the lock and waits
	// until it consumed it or ctx ends (ErrNotAcknowledged). ErrNotRunning
	// when no orchestrator holds the lock.
	Request(ctx context.Context, req Request) error
}

// Session is a held lock: the right to write the record.
type Session interface {
	// Save writes the record if the lock is still held; ErrLockLost
	// otherwise.
	Save(ctx context.Context, r Record) error
	// Requests delivers operator requests, each once.
	Requests() <-chan Request
	// Lost is closed when the lock is lost.
	Lost() <-chan struct{}
	// Release gives the lock up.
	Release(ctx context.Context) error
}

// NewRollID names a new roll: its start time and a random suffix, unique
// enough to tell one roll's knob overrides from another's.
func NewRollID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("roll-%s-%x", now.UTC().Format("20060102T150405Z"), b)
}
