package rolling

import "time"

// Clock is the orchestrator's time source. The machine reads no clock;
// the orchestrator hands it Now, and waits between polls with After.
// Tests use a fake that advances instantly.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
