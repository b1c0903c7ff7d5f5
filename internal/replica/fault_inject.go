//go:build faultinject

package replica

import (
	"os"
	"time"
)

// PEGASUS_FAULT_PEER_DELAY (a Go duration) slows a faultinject build; see
// peerDelay.
func init() {
	if d, err := time.ParseDuration(os.Getenv("PEGASUS_FAULT_PEER_DELAY")); err == nil && d > 0 {
		peerDelay = d
	}
}
