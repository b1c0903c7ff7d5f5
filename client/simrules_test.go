package client

import (
	"testing"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/sim"
)

// TestSimulationRules checks that the whole-system simulation's clients
// (internal/sim) retry as this package does: its table of wire codes must
// say what wireRules says, code by code.
func TestSimulationRules(t *testing.T) {
	classes := map[retryClass]sim.RetryClass{
		noRetry: sim.NoRetry, retryAtHint: sim.RetryAtHint, retryRefresh: sim.RetryRefresh, retryBusy: sim.RetryBusy,
	}
	for code, r := range wireRules {
		s, ok := sim.ClientRules[code]
		if !ok {
			t.Errorf("%s: no rule in sim.ClientRules", code)
			continue
		}
		want := sim.RetryRule{Retry: classes[r.retry], Rejected: r.rejected, UnknownOutcome: r.kind == ErrUnknownOutcome}
		if s != want {
			t.Errorf("%s: sim.ClientRules has %+v, wireRules says %+v", code, s, want)
		}
	}
	for code := range sim.ClientRules {
		if _, ok := wireRules[code]; !ok && code != pb.ErrorCode_ERR_OK {
			t.Errorf("%s: in sim.ClientRules, not in wireRules", code)
		}
	}
}
