package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
)

// Who may call what on a meta server: internal/security's default policy
// (admin calls need an admin credential, beacons and proposals a replica
// certificate), plus the checks that tie a replica's certificate to the
// node its requests speak for. Without the second, any replica server of
// the cluster could beacon for another, or propose a configuration change
// in another's name (forged ProposeConfig naming a primary as sender took
// every partition down to one replica, issue 16 finding 5).
func (s *Server) policy() security.Policy {
	return security.DefaultPolicy().
		With(pb.Meta_Beacon_FullMethodName, func(_ context.Context, id *security.Identity, req any) error {
			return speaksFor(id, req.(*pb.BeaconRequest).GetNode(), "beacon")
		}).
		With(pb.Meta_ProposeConfig_FullMethodName, func(_ context.Context, id *security.Identity, req any) error {
			return speaksFor(id, req.(*pb.ProposeConfigRequest).GetNode(), "configuration proposal")
		})
}

// speaksFor refuses a request naming node from a certificate that does
// not name it. Without a certificate (no TLS, or a plaintext caller while
// TLS is optional) there is nothing to check.
func speaksFor(id *security.Identity, node, what string) error {
	if id == nil || id.Speaks(node) {
		return nil
	}
	return fmt.Errorf("%w: %s for node %q from %s, whose certificate names %v", ErrForeignSender, what, node, id, id.Nodes)
}

// maxBeaconClockSkew bounds how far a beacon's start time may be ahead of
// this server's clock. A start time is the replica server's wall clock when
// its process started, so it is never ahead of the meta server's by more
// than the skew between their clocks; NTP keeps that far below this. A
// start time beyond it is forged or a broken clock: the failure detector
// takes the newest start time as the node's current process and refuses
// every beacon of an older one, so one beacon dated a century ahead would
// lock the real server out until both meta servers restart (issue 16,
// finding 2).
const maxBeaconClockSkew = time.Minute

// checkStartTime refuses a beacon from the future.
func checkStartTime(startMs int64, now time.Time) error {
	start := time.UnixMilli(startMs)
	if ahead := start.Sub(now); ahead > maxBeaconClockSkew {
		return fmt.Errorf("%w: start time %s is %s ahead of the meta server's clock (at most %s allowed; check the node's clock)",
			ErrBeaconFromFuture, start.UTC().Format(time.RFC3339), ahead.Round(time.Second), maxBeaconClockSkew)
	}
	return nil
}
