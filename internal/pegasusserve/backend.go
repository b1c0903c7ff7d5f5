package pegasusserve

import (
	"context"
	"errors"
	"fmt"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/stream"
)

// Translated requests reach the local replica server over its
// ReplicaClient.Data stream through internal/stream, the stream client our
// Go client uses: one long-lived bidirectional stream, many requests in
// flight, each tagged with an id and matched with its reply, in any order.
// Going through the replica's public data path rather than its internals
// means a request from a Pegasus client meets the same primary check,
// lease check, PacificA write path and limits as one from our own client.
// This file only names the stream's failures in this package's terms.

// roundTrip sends cr to the local replica server with the time left before
// ctx's deadline, and waits for the reply. Errors wrap ErrInvalidRequest
// or ErrBackendUnavailable when cr was not sent, ErrBackendBroken or ctx's
// error when it may have been.
func (h *ReplicaHandler) roundTrip(ctx context.Context, cr *pb.ClientRequest) (*pb.ClientResponse, error) {
	cr.TimeoutMs = stream.RemainingMillis(ctx)
	resp, err := h.data.RoundTrip(ctx, cr)
	if err != nil {
		return nil, backendError(err)
	}
	return resp, nil
}

// backendError classifies a request the stream got no reply to.
func backendError(err error) error {
	var se *stream.Error
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case errors.Is(se.Err, stream.ErrInvalidRequest):
		return fmt.Errorf("%w: %w", ErrInvalidRequest, se)
	case !se.Sent:
		return fmt.Errorf("%w: %w", ErrBackendUnavailable, se)
	case errors.Is(se.Err, context.DeadlineExceeded), errors.Is(se.Err, context.Canceled):
		// Sent, and the client's deadline passed or it went away first.
		return se
	}
	return fmt.Errorf("%w: %w", ErrBackendBroken, se)
}
