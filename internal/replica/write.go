package replica

import (
	"time"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// writeKind is the client operation a write came from; it decides the shape
// of the response.
type writeKind uint8

const (
	writeSet writeKind = iota + 1
	writeMultiSet
	writeDel
	writeMultiDel
	writeIncr
	writeCheckAndSet
)

// idempotent reports whether applying the write twice equals applying it
// once, so that a retry needs no remembered result: its answer is the decree.
func (k writeKind) idempotent() bool { return k != writeIncr && k != writeCheckAndSet }

// pendingWrite is a client write on its way through a partition: queued,
// then proposed, then waiting for its decree to commit and apply.
type pendingWrite struct {
	id       uint64 // the request's id on its client stream
	rid      pacifica.RequestID
	kind     writeKind
	data     []byte // encoded storage ops
	deadline time.Time
	reply    func(*pb.ClientResponse)
}

func (w *pendingWrite) fail(err error) {
	w.reply(&pb.ClientResponse{Id: w.id, Error: wireError(err)})
}

// succeed answers the write with the outcome of applying it.
func (w *pendingWrite) succeed(res writeResult) {
	if res.err != nil {
		w.fail(res.err)
		return
	}
	resp := &pb.ClientResponse{Id: w.id}
	switch w.kind {
	case writeIncr:
		resp.Result = &pb.ClientResponse_Incr{Incr: &pb.IncrResponse{NewValue: res.newValue}}
	case writeCheckAndSet:
		cas := res.cas
		if cas == nil {
			cas = &pb.CheckAndSetResponse{}
		}
		resp.Result = &pb.ClientResponse_CheckAndSet{CheckAndSet: cas}
	default:
		resp.Result = &pb.ClientResponse_Write{Write: &pb.WriteResponse{Decree: int64(res.decree)}}
	}
	w.reply(resp)
}

// succeedApplied answers a retry whose original was applied at decree but
// whose result is not remembered.
func (w *pendingWrite) succeedApplied(decree pacifica.Decree) {
	if !w.kind.idempotent() {
		w.fail(errorf(ErrUnknownOutcome, "applied at decree %d", decree))
		return
	}
	w.succeed(writeResult{decree: decree})
}

// writeResult is the outcome of applying one client write: what its
// response carries. Every replica computes the same one.
type writeResult struct {
	decree pacifica.Decree
	// err is the op's own failure (incr on a non-integer, ...): the same on
	// every replica, and the answer to every retry.
	err      error
	newValue int64
	cas      *pb.CheckAndSetResponse
}

// resultOf summarises what Apply returned for the ops of one mutation. A
// client write is one op; should a mutation carry more, the first failure
// decides.
func resultOf(decree pacifica.Decree, ops []storage.WriteOp, results []storage.OpResult) writeResult {
	res := writeResult{decree: decree}
	for i, r := range results {
		if r.Err != nil && res.err == nil {
			res.err = r.Err
		}
		switch ops[i].(type) {
		case storage.Incr:
			res.newValue = r.NewValue
		case storage.CheckAndSet:
			res.cas = &pb.CheckAndSetResponse{
				SetSucceed:         r.CheckPassed,
				CheckValueReturned: ops[i].(storage.CheckAndSet).ReturnCheckValue,
				CheckValueExist:    r.CheckValueExist,
				CheckValue:         r.CheckValue,
			}
		}
	}
	return res
}

// maxCachedResultBytes keeps a large returned check value out of the
// result cache: a retry of that write gets ERR_UNKNOWN_OUTCOME instead.
const maxCachedResultBytes = 64 << 10

// resultCache remembers the results of the last writes applied with a
// RequestID, so that a retry the core recognises as a duplicate gets the
// original answer (an incr's value, a check_and_set's outcome). Every replica
// keeps one, so a secondary promoted to primary answers retries too. It holds
// at most max results, evicting the oldest.
//
// The cache grows with use: an idle partition pays nothing for it.
type resultCache struct {
	max  int
	byID map[pacifica.RequestID]writeResult
	// ring lists the cached ids oldest first from next, once full.
	ring []cachedID
	next int
}

type cachedID struct {
	id     pacifica.RequestID
	decree pacifica.Decree
}

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, byID: make(map[pacifica.RequestID]writeResult)}
}

func (c *resultCache) put(id pacifica.RequestID, res writeResult) {
	if id.IsZero() || c.max <= 0 || (res.cas != nil && len(res.cas.CheckValue) > maxCachedResultBytes) {
		return
	}
	slot := cachedID{id: id, decree: res.decree}
	c.byID[id] = res
	if len(c.ring) < c.max {
		c.ring = append(c.ring, slot)
		return
	}
	old := c.ring[c.next]
	// The same id may have been applied again since (a retry arriving after
	// the dedup window): only drop the entry this slot put there.
	if old.id != id {
		if cur, ok := c.byID[old.id]; ok && cur.decree == old.decree {
			delete(c.byID, old.id)
		}
	}
	c.ring[c.next] = slot
	c.next = (c.next + 1) % c.max
}

// get returns the result of the write id applied at decree.
func (c *resultCache) get(id pacifica.RequestID, decree pacifica.Decree) (writeResult, bool) {
	res, ok := c.byID[id]
	return res, ok && res.decree == decree
}

func (c *resultCache) reset() {
	clear(c.byID)
	c.ring = nil
	c.next = 0
}
