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
// whose record storage no longer holds (collected after the retention, or
// never written by an older version): an idempotent write's answer is its
// decree, any other's result is unknown.
func (w *pendingWrite) succeedApplied(decree pacifica.Decree) {
	if !w.kind.idempotent() {
		w.fail(errorf(ErrUnknownOutcome, "applied at decree %d", decree))
		return
	}
	w.succeed(writeResult{decree: decree})
}

// writeResult is the outcome of applying one client write: what its
// response carries. Every replica computes the same one, and storage keeps
// it in the request's record for retries.
type writeResult struct {
	decree pacifica.Decree
	// err is the op's own failure (incr on a non-integer, ...): the same on
	// every replica, and the answer to every retry.
	err      error
	newValue int64
	cas      *pb.CheckAndSetResponse
}

// resultOf summarises the op results of the mutation at decree, fresh from
// Apply or read back from the request's record. A client write is one op;
// should a mutation carry more, the first failure decides.
func resultOf(decree pacifica.Decree, results []storage.OpResult) writeResult {
	res := writeResult{decree: decree}
	for _, r := range results {
		if r.Err != nil && res.err == nil {
			res.err = r.Err
		}
		switch r.Kind {
		case storage.OpIncr:
			res.newValue = r.NewValue
		case storage.OpCheckAndSet:
			res.cas = &pb.CheckAndSetResponse{
				SetSucceed:         r.CheckPassed,
				CheckValueReturned: r.CheckValueReturned,
				CheckValueExist:    r.CheckValueExist,
				CheckValue:         r.CheckValue,
			}
		}
	}
	return res
}

// storageID is a request id in storage's terms.
func storageID(id pacifica.RequestID) storage.RequestID {
	return storage.RequestID{ClientID: id.ClientID, Seq: id.Seq}
}
