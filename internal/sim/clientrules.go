package sim

import "github.com/pegasus-go/pegasus/internal/rpc/pb"

// RetryClass says what a client does after a failed attempt (the client
// package's retryClass).
type RetryClass uint8

const (
	NoRetry RetryClass = iota
	RetryAtHint
	RetryRefresh
	RetryBusy
)

// RetryRule is what the client knows about one wire error code: how it
// retries, and whether the code proves a write was not applied by the
// attempt (rejected).
type RetryRule struct {
	Retry    RetryClass
	Rejected bool
	// UnknownOutcome: the code itself says the write's outcome is unknown.
	UnknownOutcome bool
}

// ClientRules is the client package's table of wire error codes
// (client/errors.go wireRules), which the simulated clients follow. The
// client package's tests check that the two tables agree
// (TestSimulationRules), so a change there fails until it is made here.
var ClientRules = map[pb.ErrorCode]RetryRule{
	pb.ErrorCode_ERR_INVALID_STATE:          {Retry: RetryAtHint},
	pb.ErrorCode_ERR_OBJECT_NOT_FOUND:       {Retry: RetryRefresh, Rejected: true},
	pb.ErrorCode_ERR_INACTIVE_STATE:         {Retry: RetryRefresh},
	pb.ErrorCode_ERR_STALE_BALLOT:           {Retry: RetryRefresh},
	pb.ErrorCode_ERR_REJECT:                 {Retry: RetryRefresh, Rejected: true},
	pb.ErrorCode_ERR_FORWARD_TO_OTHERS:      {Retry: RetryRefresh, Rejected: true},
	pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER:      {Retry: RetryBusy, Rejected: true},
	pb.ErrorCode_ERR_CAPACITY_EXCEEDED:      {Retry: RetryBusy, Rejected: true},
	pb.ErrorCode_ERR_BUSY:                   {Retry: RetryBusy, Rejected: true},
	pb.ErrorCode_ERR_TIMEOUT:                {Retry: RetryBusy},
	pb.ErrorCode_ERR_INVALID_PARAMETERS:     {Rejected: true},
	pb.ErrorCode_ERR_INVALID_DATA:           {Rejected: true},
	pb.ErrorCode_ERR_APP_EXIST:              {Rejected: true},
	pb.ErrorCode_ERR_APP_NOT_EXIST:          {Rejected: true},
	pb.ErrorCode_ERR_VERSION_OUTDATED:       {Rejected: true},
	pb.ErrorCode_ERR_STATE_FREEZED:          {Rejected: true},
	pb.ErrorCode_ERR_CHECKPOINT_UNAVAILABLE: {Rejected: true},
	pb.ErrorCode_ERR_UNKNOWN_OUTCOME:        {UnknownOutcome: true},
	pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH:    {Retry: RetryRefresh, Rejected: true},
	pb.ErrorCode_ERR_UNKNOWN:                {},
}

func ruleFor(code pb.ErrorCode) RetryRule {
	if r, ok := ClientRules[code]; ok {
		return r
	}
	return ClientRules[pb.ErrorCode_ERR_UNKNOWN]
}
