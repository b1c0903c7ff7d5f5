package replica

import "time"

// peerDelay delays every batch of peer messages this server receives
// (prepares, acks, learning). It is zero except in a test build
// (faultinject) whose environment sets it: a deliberately bad binary for
// the rolling update's SLO gate and rollback tests, slow the way a
// regression would be.
var peerDelay time.Duration

func injectPeerDelay() {
	if peerDelay > 0 {
		time.Sleep(peerDelay)
	}
}
