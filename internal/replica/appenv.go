package replica

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/appenv"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// Table environment variables in effect (Pegasus app envs): the meta server
// sends each table's envs with its TableInfo (pushes and beacon answers,
// newest envs_revision wins); every replica of the table applies them to
// client requests in serveRequest:
//
//   - replica.deny_client_request refuses reads and/or writes before
//     anything else: "reconfig*" answers ERR_INVALID_STATE (clients refresh
//     their routes), "timeout*" answers nothing until the request's own
//     deadline has passed (Pegasus never answers; answering at the
//     deadline frees the stream's slot and tells a client still waiting).
//   - default_ttl gives writes that carry no TTL one, on the primary
//     before the write is logged, so every replica applies the same one.
//   - replica.write_throttling[_by_size] counts each partition's writes
//     (or their bytes) per second against its share of the table's limit:
//     above the delay threshold a write waits, above the reject threshold
//     it is answered ERR_BUSY after the reject wait (appenv.Throttle).

// tableEnv is one table's parsed envs.
type tableEnv struct {
	revision int64
	appenv.Effects
}

// noEnv is the effect of a table with no envs (or none known yet).
var noEnv = &tableEnv{}

// setTableEnvLocked records t's envs unless a newer revision is known; it
// reports whether t is to be kept. Requires s.mu.
func (s *Server) setTableEnvLocked(t *pb.TableInfo) bool {
	if old := s.tables[t.GetAppId()]; old != nil && old.GetEnvsRevision() > t.GetEnvsRevision() {
		return false
	}
	s.envs.Store(t.GetAppId(), &tableEnv{revision: t.GetEnvsRevision(), Effects: appenv.Parse(t.GetEnvs())})
	return true
}

// tableEnv returns the envs in force for app.
func (s *Server) tableEnv(app int32) *tableEnv {
	if v, ok := s.envs.Load(app); ok {
		return v.(*tableEnv)
	}
	return noEnv
}

// envsRevisions reports, for beacons, the envs revision of every table
// whose TableInfo the server holds.
func (s *Server) envsRevisions() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int32]int64, len(s.tables))
	for id, t := range s.tables {
		out[id] = t.GetEnvsRevision()
	}
	return out
}

// denyUntilDeadline answers a request refused by "timeout*" once its
// deadline has passed.
func denyUntilDeadline(deadline time.Time, fail func(error)) {
	time.AfterFunc(time.Until(deadline), func() {
		fail(errorf(ErrTimeout, "table denies client requests (%s)", appenv.DenyClientRequest))
	})
}

// withDefaultTTL returns op with ttl given to it if it carries no TTL.
// Incr keeps its own rule (0 keeps the record's expiry) and is left alone.
func withDefaultTTL(op storage.WriteOp, ttl int32) storage.WriteOp {
	if ttl <= 0 {
		return op
	}
	switch o := op.(type) {
	case storage.Put:
		if o.TTLSeconds == 0 {
			o.TTLSeconds = ttl
		}
		return o
	case storage.MultiPut:
		if o.TTLSeconds == 0 {
			o.TTLSeconds = ttl
		}
		return o
	case storage.CheckAndSet:
		if o.SetTTLSeconds == 0 {
			o.SetTTLSeconds = ttl
		}
		return o
	}
	return op
}

// throttle is a partition's write throttling state.
type throttle struct {
	mu         sync.Mutex
	qps, bytes appenv.Window
}

// control charges one write of size bytes and decides. The stricter of the
// two throttles wins: a reject over a delay, the longer wait otherwise.
func (t *throttle) control(env *tableEnv, partitionCount int32, size int, timeout time.Duration) (appenv.Decision, time.Duration) {
	if !env.WriteQPS.Enabled() && !env.WriteSize.Enabled() {
		return appenv.Pass, 0
	}
	now := time.Now().Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	d1, w1 := env.WriteQPS.Control(&t.qps, now, partitionCount, 1, timeout)
	if d1 == appenv.Reject {
		return d1, w1
	}
	d2, w2 := env.WriteSize.Control(&t.bytes, now, partitionCount, uint64(size), timeout)
	if d2 == appenv.Reject {
		return d2, w2
	}
	return max(d1, d2), max(w1, w2)
}

// appEnvsJSON is one table's envs as replica.query-app-envs prints them.
type appEnvsJSON struct {
	AppName      string            `json:"app_name"`
	EnvsRevision int64             `json:"envs_revision"`
	Envs         map[string]string `json:"envs"`
}

// cmdQueryAppEnvs answers replica.query-app-envs [app_id] (Pegasus'
// replica.query-app-envs): the envs in force per app id.
func (s *Server) cmdQueryAppEnvs(_ context.Context, args []string) (string, error) {
	only := int32(-1)
	if len(args) > 1 {
		return "", errorf(ErrInvalidRequest, "usage: replica.query-app-envs [app_id]")
	}
	if len(args) == 1 {
		id, err := strconv.ParseInt(args[0], 10, 32)
		if err != nil {
			return "", errorf(ErrInvalidRequest, "app_id %q: %v", args[0], err)
		}
		only = int32(id)
	}
	out := make(map[string]appEnvsJSON)
	s.mu.Lock()
	for id, t := range s.tables {
		if only >= 0 && id != only {
			continue
		}
		envs := t.GetEnvs()
		if envs == nil {
			envs = map[string]string{}
		}
		out[strconv.Itoa(int(id))] = appEnvsJSON{AppName: t.GetName(), EnvsRevision: t.GetEnvsRevision(), Envs: envs}
	}
	s.mu.Unlock()
	b, err := json.Marshal(out)
	return string(b), err
}
