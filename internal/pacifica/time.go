package pacifica

import "time"

// Time is a reading of the driver's monotonic clock: nanoseconds since an
// origin the driver chose once, before its first reading (its process
// start, say), so only differences mean anything and every reading is
// positive: zero stands for "no time" in messages and leases. It is never wall-clock time: a wall clock that an operator
// or NTP steps by 30 s would stretch or cut every lease and promise, while
// a monotonic clock only runs.
//
// The core reads no clock. Every input that starts or checks something
// measured in time takes the current Time as an argument (Step, Tick, New,
// ReadState.Check), so a driver cannot forget to advance it; the core keeps
// the newest value it was given and never goes back. Inputs without a time
// argument (Propose, UpdateConfig, Advance, ...) act at the last Time fed,
// which is earlier than the truth; every use of time is arranged so that an
// earlier reading is the conservative one (see lease.go).
type Time int64

// Add returns t+d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

func (t Time) String() string { return time.Duration(t).String() }
