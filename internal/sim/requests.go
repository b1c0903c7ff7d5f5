package sim

import (
	"maps"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// requests models a store's request records (storage/requests.go): the
// record of every request the store applied, written in the batch that
// applies it, and the apply clock that times them. It is part of the store's
// state: a crash reverts it with the data to the durable copy, a flush and a
// checkpoint copy it with the data, so the store knows a request exactly
// when it holds its effects.
type requests struct {
	table map[pacifica.RequestID]appliedRequest
	// clock is the store's apply clock (Pegasus seconds): the newest
	// mutation timestamp applied; it never runs backwards.
	clock uint32
}

// appliedRequest is one record (storage.AppliedRequest): the result the
// request got, its decree in result.decree, and its apply time.
type appliedRequest struct {
	result    opResult
	applyTime uint32
}

func newRequests() requests {
	return requests{table: make(map[pacifica.RequestID]appliedRequest)}
}

func (r requests) clone() requests {
	return requests{table: maps.Clone(r.table), clock: r.clock}
}

// requestBucketSeconds is the store's default Options.RequestBucketSeconds.
const requestBucketSeconds = storage.DefaultRequestBucketSeconds

func requestBucket(t uint32) uint32 { return t - t%requestBucketSeconds }

// applied records the request id applied at res.decree, at the mutation's
// timestamp ts (unix seconds), as storage.Store.Apply does: the apply clock
// advances first (never backwards), an entry without an id leaves no
// record.
func (r *requests) applied(ts int64, id pacifica.RequestID, res opResult) {
	r.clock = max(storage.PegasusSeconds(ts), r.clock)
	if !id.IsZero() {
		r.table[id] = appliedRequest{result: res, applyTime: r.clock}
	}
}

// lookup returns the record of id, as storage.Store.AppliedRequest does: a
// record is found while its bucket is within retention seconds of the apply
// clock, even if a later sweep would keep it longer.
func (r *requests) lookup(id pacifica.RequestID, retention uint32) (appliedRequest, bool) {
	a, ok := r.table[id]
	if id.IsZero() || !ok {
		return appliedRequest{}, false
	}
	oldest := requestBucket(r.clock - min(r.clock, retention))
	return a, requestBucket(a.applyTime) >= oldest
}

// sweep drops the records of every bucket the apply clock has passed by
// more than retention (storage.Store.DropExpiredRequests): bucket [b, b+w)
// goes once b+w+retention <= clock. It reports how many it dropped.
func (r *requests) sweep(retention uint32) int {
	w := uint64(requestBucketSeconds)
	horizon := uint64(r.clock)
	if horizon < uint64(retention)+w {
		return 0
	}
	end := (horizon-uint64(retention)-w)/w*w + w
	n := 0
	for id, a := range r.table {
		if uint64(requestBucket(a.applyTime)) < end {
			delete(r.table, id)
			n++
		}
	}
	return n
}
