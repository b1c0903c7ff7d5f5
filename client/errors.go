package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Sentinel errors. Every error the package returns wraps at least one of
// them (or a context error), so callers branch with errors.Is and never on
// message text. The doc comment of the package explains which of them are
// definitive answers and which leave a write's outcome unknown.
var (
	// ErrTimeout: the operation did not complete before its deadline.
	ErrTimeout = errors.New("client: operation timed out")
	// ErrUnknownOutcome: a write may or may not have been applied. It always
	// comes together with the error that ended the operation (usually
	// ErrTimeout).
	ErrUnknownOutcome = errors.New("client: write outcome unknown")
	// ErrTableNotFound: the meta server knows no available table by that name.
	ErrTableNotFound = errors.New("client: table not found")
	// ErrNotPrimary: the replica asked is not the partition's primary. The
	// client retries it internally; it reaches the caller only as the last
	// error of an operation that ran out of time.
	ErrNotPrimary = errors.New("client: replica is not the primary")
	// ErrCapacityExceeded: the primary has too many writes in flight.
	ErrCapacityExceeded = errors.New("client: capacity exceeded")
	// ErrBusy: the server is overloaded.
	ErrBusy = errors.New("client: server busy")
	// ErrInvalidArgument: the request is malformed or too large, or a value
	// cannot be used the way asked (Incr on a non-integer). Nothing was written.
	ErrInvalidArgument = errors.New("client: invalid argument")
	// ErrUnavailable: no server could serve the request (unreachable
	// servers, a partition without enough replicas, no meta server answering).
	ErrUnavailable = errors.New("client: unavailable")
	// ErrIncompatibleVersion: the server speaks a protocol version this
	// client cannot talk to.
	ErrIncompatibleVersion = errors.New("client: incompatible protocol version")
	// ErrInternal: the server reported an error the client has no better
	// name for, or sent a malformed answer.
	ErrInternal = errors.New("client: server error")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client: closed")
)

// Error is an error answered by a server. It wraps the sentinel for its
// kind, so errors.Is(err, ErrNotPrimary) works on an *Error as well as on
// any error wrapping one.
type Error struct {
	// Code is the Pegasus error name the server answered, e.g.
	// "ERR_INVALID_STATE".
	Code string
	// Message is the server's explanation, possibly empty.
	Message string
	// Server is the address of the server that answered.
	Server string

	kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.kind.Error())
	b.WriteString(": ")
	b.WriteString(e.Code)
	if e.Server != "" {
		b.WriteString(" from ")
		b.WriteString(e.Server)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the sentinel for the error's kind.
func (e *Error) Unwrap() error { return e.kind }

// retryClass says what the client does after an attempt failed.
type retryClass uint8

const (
	// noRetry ends the operation with the error.
	noRetry retryClass = iota
	// retryAtHint: the replica is not the primary. Go straight to the
	// primary it names; without a name, behave as retryRefresh.
	retryAtHint
	// retryRefresh: the cached route is stale. Ask the meta server for the
	// partition configuration again, then retry with RoutingBackoff.
	retryRefresh
	// retryBusy: the route is right but the primary cannot take the request
	// now. Retry with BusyBackoff and the same route.
	retryBusy
)

// rule is what the client knows about one way an attempt can fail.
type rule struct {
	kind  error
	retry retryClass
	// rejected means the server refused the request before it could take
	// effect, so a write answered this way was definitely not applied by
	// this attempt. Codes that a primary may also answer for a write it had
	// already started replicating (it lost its role mid-flight, its lease
	// ran out, its secondaries timed out) are not rejections: the write may
	// still commit under the next primary.
	rejected bool
}

// wireRules maps every wire error code to its rule. It is the only place
// where wire codes get a meaning; a code missing here (one added to the
// protocol after this client was built) is treated as ERR_UNKNOWN.
var wireRules = map[pb.ErrorCode]rule{
	pb.ErrorCode_ERR_INVALID_STATE:          {kind: ErrNotPrimary, retry: retryAtHint},
	pb.ErrorCode_ERR_OBJECT_NOT_FOUND:       {kind: ErrUnavailable, retry: retryRefresh, rejected: true},
	pb.ErrorCode_ERR_INACTIVE_STATE:         {kind: ErrUnavailable, retry: retryRefresh},
	pb.ErrorCode_ERR_STALE_BALLOT:           {kind: ErrUnavailable, retry: retryRefresh},
	pb.ErrorCode_ERR_REJECT:                 {kind: ErrUnavailable, retry: retryRefresh, rejected: true},
	pb.ErrorCode_ERR_FORWARD_TO_OTHERS:      {kind: ErrUnavailable, retry: retryRefresh, rejected: true},
	pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER:      {kind: ErrUnavailable, retry: retryBusy, rejected: true},
	pb.ErrorCode_ERR_CAPACITY_EXCEEDED:      {kind: ErrCapacityExceeded, retry: retryBusy, rejected: true},
	pb.ErrorCode_ERR_BUSY:                   {kind: ErrBusy, retry: retryBusy, rejected: true},
	pb.ErrorCode_ERR_TIMEOUT:                {kind: ErrTimeout, retry: retryBusy},
	pb.ErrorCode_ERR_INVALID_PARAMETERS:     {kind: ErrInvalidArgument, rejected: true},
	pb.ErrorCode_ERR_INVALID_DATA:           {kind: ErrInvalidArgument, rejected: true},
	pb.ErrorCode_ERR_APP_EXIST:              {kind: ErrInvalidArgument, rejected: true},
	pb.ErrorCode_ERR_APP_NOT_EXIST:          {kind: ErrTableNotFound, rejected: true},
	pb.ErrorCode_ERR_VERSION_OUTDATED:       {kind: ErrIncompatibleVersion, rejected: true},
	pb.ErrorCode_ERR_STATE_FREEZED:          {kind: ErrUnavailable, rejected: true},
	pb.ErrorCode_ERR_CHECKPOINT_UNAVAILABLE: {kind: ErrUnavailable, rejected: true},
	pb.ErrorCode_ERR_UNKNOWN_OUTCOME:        {kind: ErrUnknownOutcome},
	// The server belongs to another cluster (its address was reused): the
	// route is stale, and the request was refused before anything ran.
	pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH: {kind: ErrUnavailable, retry: retryRefresh, rejected: true},
	pb.ErrorCode_ERR_UNKNOWN:             {kind: ErrInternal},
}

// ruleFor returns the rule of a wire error code.
func ruleFor(code pb.ErrorCode) rule {
	if r, ok := wireRules[code]; ok {
		return r
	}
	return wireRules[pb.ErrorCode_ERR_UNKNOWN]
}

// serverError converts a non-OK wire error answered by server into an *Error
// and the rule to follow.
func serverError(server string, e *pb.Error) (*Error, rule) {
	r := ruleFor(e.GetCode())
	return &Error{Code: e.GetCode().String(), Message: e.GetMessage(), Server: server, kind: r.kind}, r
}

// transportError is a failure to talk to a server at all: the connection or
// the stream broke, or could not be opened. The server did not answer, so
// a write sent before the failure may or may not have been applied.
type transportError struct {
	server string
	err    error
	rule   rule
}

func (e *transportError) Error() string {
	return fmt.Sprintf("%v: %s: %v", e.rule.kind, e.server, e.err)
}

func (e *transportError) Unwrap() error { return e.rule.kind }

// transportRule classifies the error that ended a stream or a unary call to
// server. gRPC reports a refused protocol version as FailedPrecondition
// (internal/rpc) and an unknown service as Unimplemented; neither improves
// by retrying. Everything else is a broken or unreachable server, which the
// meta server may route around.
func transportRule(server string, err error) *transportError {
	var r rule
	switch {
	case errors.Is(err, ErrClosed):
		r = rule{kind: ErrClosed}
	case errors.Is(err, io.EOF):
		// The server ended the stream cleanly, e.g. on shutdown.
		r = rule{kind: ErrUnavailable, retry: retryRefresh}
	default:
		switch status.Code(err) {
		case codes.FailedPrecondition, codes.Unimplemented:
			r = rule{kind: ErrIncompatibleVersion, rejected: true}
		default:
			r = rule{kind: ErrUnavailable, retry: retryRefresh}
		}
	}
	return &transportError{server: server, err: err, rule: r}
}

// opError is how an operation that did not succeed reports it: which
// operation on which table, what ended it, and whether a write may have been
// applied anyway. It wraps the ending error, the context error when the
// caller's context ended it, and ErrUnknownOutcome when the outcome is
// unknown.
type opError struct {
	op       string
	table    string
	attempts int
	// err is the error that ended the operation: an *Error, a
	// transportError, or ErrTimeout.
	err error
	// last is the last attempt's failure when err is ErrTimeout or a context
	// error; it is reported in the message but not wrapped, so that a timed
	// out operation is not also errors.Is(err, ErrNotPrimary).
	last error
	// ctxErr is context.DeadlineExceeded or context.Canceled when the
	// caller's context ended the operation.
	ctxErr  error
	unknown bool
}

func (e *opError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: %s on table %q: ", e.op, e.table)
	switch {
	case errors.Is(e.ctxErr, context.Canceled):
		b.WriteString("canceled")
	case e.err != nil:
		msg := e.err.Error()
		b.WriteString(strings.TrimPrefix(msg, "client: "))
	}
	if e.attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.attempts)
	}
	if e.unknown {
		b.WriteString(" (write outcome unknown)")
	}
	if e.last != nil {
		fmt.Fprintf(&b, "; last error: %v", strings.TrimPrefix(e.last.Error(), "client: "))
	}
	return b.String()
}

func (e *opError) Unwrap() []error {
	errs := make([]error, 0, 3)
	if e.err != nil {
		errs = append(errs, e.err)
	}
	if e.ctxErr != nil {
		errs = append(errs, e.ctxErr)
	}
	if e.unknown {
		errs = append(errs, ErrUnknownOutcome)
	}
	return errs
}

// malformed reports a response that does not carry the result its request
// asks for: a server bug, never retried.
func malformed(server string, want string, resp *pb.ClientResponse) error {
	return &Error{
		Code:    pb.ErrorCode_ERR_UNKNOWN.String(),
		Message: fmt.Sprintf("response to %s carries %T", want, resp.GetResult()),
		Server:  server,
		kind:    ErrInternal,
	}
}
