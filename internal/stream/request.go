package stream

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// WriteIDs hands out the RequestIDs of one writer's writes. A RequestID is
// what lets a primary recognise a retried write and answer it with the
// first outcome instead of applying it again; a write keeps its id across
// all its sends (RoundTrip numbers them). The client id is random so that
// two writers, or one writer after a restart, never collide.
type WriteIDs struct {
	clientID uint64
	seq      atomic.Uint64
}

// NewWriteIDs returns a source of RequestIDs under a new random client id.
func NewWriteIDs() (*WriteIDs, error) {
	var b [8]byte
	if _, err := crand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("stream: generating a client id: %w", err)
	}
	return &WriteIDs{clientID: binary.LittleEndian.Uint64(b[:])}, nil
}

// Next returns the RequestID of a new write.
func (w *WriteIDs) Next() *pb.RequestID {
	return &pb.RequestID{ClientId: w.clientID, Seq: w.seq.Add(1)}
}

// RemainingMillis is the time left before ctx's deadline as a request's
// timeout_ms, for the server to stop working on a request nobody waits for
// any more: at least 1 (0 means the server's default), 0 without a
// deadline.
func RemainingMillis(ctx context.Context) uint32 {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	ms := time.Until(deadline).Milliseconds()
	return uint32(min(max(ms, 1), math.MaxUint32))
}
