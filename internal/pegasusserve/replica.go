package pegasusserve

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/stream"
)

// Defaults of ReplicaOptions.
const (
	// DefaultScanIdleTimeout is how long a scan context survives without a
	// scan call: Pegasus' own five minutes.
	DefaultScanIdleTimeout = 5 * time.Minute
	// DefaultMaxScanContexts bounds the open scan contexts of one replica
	// server; past it, the least recently used one is dropped (its client
	// sees "context gone" and restarts from its last key).
	DefaultMaxScanContexts = 4096
)

// ReplicaOptions tune a ReplicaHandler. Zero fields take the defaults.
type ReplicaOptions struct {
	// ServerAddress is what responses name in their `server` field: the
	// Pegasus address clients reach this replica server at.
	ServerAddress string
	// ScanIdleTimeout and MaxScanContexts bound the scan contexts kept
	// between a get_scanner and its scans.
	ScanIdleTimeout time.Duration
	MaxScanContexts int
	// RefusalRetryTime bounds how long a request the replica refuses for
	// the moment (see refusedForNow) is retried there before the refusal
	// is passed on. Zero retries until shortly before the client's
	// deadline; a negative value passes refusals on at once.
	RefusalRetryTime time.Duration
	// Now is the clock used to convert expire times; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Credentials reach the local replica server's gRPC service: the
	// server's own certificate when the cluster runs mutual TLS.
	Credentials dial.Credentials
}

func (o ReplicaOptions) withDefaults() ReplicaOptions {
	if o.ScanIdleTimeout <= 0 {
		o.ScanIdleTimeout = DefaultScanIdleTimeout
	}
	if o.MaxScanContexts <= 0 {
		o.MaxScanContexts = DefaultMaxScanContexts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// ReplicaHandler serves the rrdb RPCs of Pegasus clients by translating
// each into requests on the local replica server's ReplicaClient.Data
// stream. It holds no data: the replica server decides everything
// (routing, primary and lease checks, replication, limits), so data written
// through either protocol reads back identically through the other.
//
// What it does hold is what the Pegasus protocol keeps on the server and
// ours does not: scan contexts between get_scanner and scan calls.
type ReplicaHandler struct {
	opts  ReplicaOptions
	data  *stream.Conn // to the local replica server
	scans *scanContexts

	// Writes carry a RequestID like our client's, so that the replica's
	// duplicate detection sees translated writes as one more client.
	writeIDs *stream.WriteIDs

	stop      chan struct{}
	closeOnce sync.Once
	sweeper   sync.WaitGroup
}

// NewReplicaHandler returns a handler that forwards to the replica server
// whose gRPC service listens at localGRPCAddr. The connection is made
// lazily, so the replica server may start serving after this returns.
func NewReplicaHandler(localGRPCAddr string, opts ReplicaOptions) (*ReplicaHandler, error) {
	opts = opts.withDefaults()
	writeIDs, err := stream.NewWriteIDs()
	if err != nil {
		return nil, fmt.Errorf("pegasusserve: %w", err)
	}
	cc, err := dialLocal(localGRPCAddr, opts.Credentials)
	if err != nil {
		return nil, err
	}
	h := &ReplicaHandler{
		opts:     opts,
		data:     stream.New(localGRPCAddr, cc),
		scans:    newScanContexts(opts.MaxScanContexts, opts.ScanIdleTimeout, opts.Now),
		writeIDs: writeIDs,
		stop:     make(chan struct{}),
	}
	h.sweeper.Add(1)
	go h.sweepScans()
	return h, nil
}

// dialLocal connects to one of our own gRPC services on this host, with
// the process's credentials. The dial timeout is short: the other end is
// in the same process or on loopback.
func dialLocal(addr string, creds dial.Credentials) (*grpc.ClientConn, error) {
	cc, err := dial.Options{DialTimeout: time.Second, Credentials: creds}.NewClient(addr)
	if err != nil {
		return nil, fmt.Errorf("pegasusserve: dial %s: %w", addr, err)
	}
	return cc, nil
}

// Close ends the data stream and drops every scan context. Requests still
// executing fail.
func (h *ReplicaHandler) Close() error {
	h.closeOnce.Do(func() {
		close(h.stop)
		h.sweeper.Wait()
		h.data.Close()
	})
	return nil
}

// sweepScans drops idle scan contexts. Contexts are also checked for age
// when used, so the period only bounds the memory idle ones hold.
func (h *ReplicaHandler) sweepScans() {
	defer h.sweeper.Done()
	t := time.NewTicker(min(h.opts.ScanIdleTimeout/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.scans.expire()
		}
	}
}

// Serve implements Handler.
func (h *ReplicaHandler) Serve(ctx context.Context, req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	switch args := req.Args.(type) {
	case *pegasusrpc.UpdateRequest:
		return h.put(ctx, req, args)
	case *pegasusrpc.MultiPutRequest:
		return h.multiPut(ctx, req, args)
	case *pegasusrpc.MultiRemoveRequest:
		return h.multiRemove(ctx, req, args)
	case *pegasusrpc.IncrRequest:
		return h.incr(ctx, req, args)
	case *pegasusrpc.CheckAndSetRequest:
		return h.checkAndSet(ctx, req, args)
	case *pegasusrpc.CheckAndMutateRequest:
		return h.checkAndMutate(req)
	case *pegasusrpc.MultiGetRequest:
		return h.multiGet(ctx, req, args)
	case *pegasusrpc.BatchGetRequest:
		return h.batchGet(ctx, req, args)
	case *pegasusrpc.GetScannerRequest:
		return h.getScanner(ctx, req, args)
	case *pegasusrpc.ScanRequest:
		return h.scan(ctx, req, args.ContextID)
	case *pegasusrpc.ScanContextID:
		h.scans.remove(int64(*args), req.Header.Gpid)
		return pegasusrpc.CodeOK, nil // one-way: never sent
	case *pegasusrpc.Blob:
		// Four RPCs take a bare blob; the RPC says which.
		switch req.RPC {
		case pegasusrpc.RPCRemove:
			return h.remove(ctx, req, *args)
		case pegasusrpc.RPCGet:
			return h.get(ctx, req, *args)
		case pegasusrpc.RPCTTL:
			return h.ttl(ctx, req, *args)
		case pegasusrpc.RPCSortkeyCount:
			return h.sortKeyCount(ctx, req, *args)
		}
	}
	// A meta RPC sent to a replica server.
	return pegasusrpc.CodeHandlerNotFound, nil
}

// send carries one operation of req to the replica and returns its
// response with the Pegasus outcome. The partition travels as the client
// addressed it: the replica checks both gpid and partition hash, so a
// client with stale routing is told so by the replica itself.
func (h *ReplicaHandler) send(ctx context.Context, req *pegasusrpc.Request, partitionHash uint64, cr *pb.ClientRequest) (*pb.ClientResponse, outcome) {
	cr.Gpid = &pb.Gpid{AppId: req.Header.Gpid.AppID, PartitionIndex: req.Header.Gpid.PartitionIndex}
	cr.PartitionHash = partitionHash
	if isWrite(cr) {
		// Kept across retries; the stream numbers each send in Attempt.
		cr.RequestId = h.writeIDs.Next()
	}
	retryUntil := h.refusalRetryDeadline(ctx, req.Header.ClientTimeout)
	for attempt := 0; ; attempt++ {
		resp, err := h.roundTrip(ctx, cr)
		if err != nil {
			return nil, failureOutcome(err)
		}
		if !refusedForNow(resp.GetError().GetCode()) || !pause(ctx, attempt, retryUntil) {
			return resp, replicaOutcome(resp.GetError())
		}
	}
}

// refusalRetryDeadline is when retries of refusals must have ended: a
// margin before the client's deadline, so that the client hears the
// refusal itself rather than its own timeout, or earlier as configured.
// The client's timeout from the header counts here even when it is
// shorter than the request's deadline: it is when the client stops
// listening. The zero time means no retries.
func (h *ReplicaHandler) refusalRetryDeadline(ctx context.Context, clientTimeoutMs uint32) time.Time {
	if h.opts.RefusalRetryTime < 0 {
		return time.Time{}
	}
	until := time.Now().Add(DefaultRequestTimeout)
	if d, ok := ctx.Deadline(); ok {
		until = d
	}
	if clientTimeoutMs > 0 {
		until = minTime(until, time.Now().Add(time.Duration(clientTimeoutMs)*time.Millisecond))
	}
	until = until.Add(-busyRetryMargin)
	if h.opts.RefusalRetryTime > 0 {
		until = minTime(until, time.Now().Add(h.opts.RefusalRetryTime))
	}
	return until
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Retry pacing of refusals: exponential from busyRetryBase to
// busyRetryCap, ending busyRetryMargin before the client's deadline.
const (
	busyRetryBase   = 5 * time.Millisecond
	busyRetryCap    = 200 * time.Millisecond
	busyRetryMargin = 50 * time.Millisecond
)

// pause waits before retry number attempt+1; false means the wait would
// end past until.
func pause(ctx context.Context, attempt int, until time.Time) bool {
	wait := busyRetryCap
	if attempt < 8 {
		wait = min(busyRetryBase<<attempt, busyRetryCap)
	}
	if time.Now().Add(wait).After(until) {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// read is send for reads, which need a result: an OK answer without one
// is a fault of the replica, answered ERR_UNKNOWN.
func (h *ReplicaHandler) read(ctx context.Context, req *pegasusrpc.Request, partitionHash uint64, cr *pb.ClientRequest, has func(*pb.ClientResponse) bool) (*pb.ClientResponse, outcome) {
	resp, oc := h.send(ctx, req, partitionHash, cr)
	if oc == okOutcome && !has(resp) {
		h.opts.Logger.Error("pegasus: replica answered without a result", "rpc", req.Name, "err", ErrBackendResult)
		return nil, failureOutcome(ErrBackendResult)
	}
	return resp, oc
}

func isWrite(cr *pb.ClientRequest) bool {
	switch cr.GetOp().(type) {
	case *pb.ClientRequest_Set, *pb.ClientRequest_MultiSet, *pb.ClientRequest_Del, *pb.ClientRequest_MultiDel,
		*pb.ClientRequest_Incr, *pb.ClientRequest_CheckAndSet:
		return true
	}
	return false
}

func (h *ReplicaHandler) now() time.Time { return h.opts.Now() }

// partition fills the identification fields every rrdb response carries.
func (h *ReplicaHandler) partition(req *pegasusrpc.Request) (appID, partitionIndex int32, server string) {
	return req.Header.Gpid.AppID, req.Header.Gpid.PartitionIndex, h.opts.ServerAddress
}
