package appenv

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Throttle is one parsed throttling env, for the whole table: above
// DelayUnits per second a request waits Delay before it runs, above
// RejectUnits it is refused with ERR_BUSY after RejectDelay (Pegasus'
// throttling_controller). Zero units disable that part.
type Throttle struct {
	DelayUnits  uint64
	Delay       time.Duration
	RejectUnits uint64
	RejectDelay time.Duration
}

// Enabled reports whether t limits anything.
func (t Throttle) Enabled() bool { return t.DelayUnits > 0 || t.RejectUnits > 0 }

// ParseThrottle reads "<units[K|M]>*<delay|reject>*<ms>" parts separated
// by commas, at most one of each kind. K and M multiply by 2^10 and 2^20.
func ParseThrottle(v string) (Throttle, error) {
	var t Throttle
	if strings.TrimSpace(v) == "" {
		return t, fmt.Errorf("%w: empty throttling value", ErrInvalidValue)
	}
	var haveDelay, haveReject bool
	for part := range strings.SplitSeq(v, ",") {
		fields := strings.Split(strings.TrimSpace(part), "*")
		if len(fields) != 3 {
			return Throttle{}, fmt.Errorf("%w: %q: want <units[K|M]>*<delay|reject>*<milliseconds>", ErrInvalidValue, part)
		}
		units, err := parseUnits(fields[0])
		if err != nil {
			return Throttle{}, err
		}
		ms, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return Throttle{}, fmt.Errorf("%w: %q should be milliseconds", ErrInvalidValue, fields[2])
		}
		d := time.Duration(ms) * time.Millisecond
		switch fields[1] {
		case "delay":
			if haveDelay {
				return Throttle{}, fmt.Errorf("%w: duplicate 'delay' part", ErrInvalidValue)
			}
			haveDelay, t.DelayUnits, t.Delay = true, units, d
		case "reject":
			if haveReject {
				return Throttle{}, fmt.Errorf("%w: duplicate 'reject' part", ErrInvalidValue)
			}
			haveReject, t.RejectUnits, t.RejectDelay = true, units, d
		default:
			return Throttle{}, fmt.Errorf("%w: %q should be 'delay' or 'reject'", ErrInvalidValue, fields[1])
		}
	}
	return t, nil
}

func parseUnits(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q should be an unsigned integer, optionally followed by K or M", ErrInvalidValue, s)
	}
	if n > math.MaxUint64/mult {
		return 0, fmt.Errorf("%w: %q overflows", ErrInvalidValue, s)
	}
	return n * mult, nil
}

// Decision is what a throttle says about one request.
type Decision uint8

const (
	// Pass: run the request now.
	Pass Decision = iota
	// Delay: run it after the returned wait, unthrottled.
	Delay
	// Reject: answer ERR_BUSY after the returned wait.
	Reject
)

// Window counts one partition's units in the current second. The zero
// value is ready; it is not safe for concurrent use.
type Window struct {
	second int64
	units  uint64
}

// Control charges units to w at unix second now and decides, for a table
// of partitionCount partitions: each partition takes its share of the
// table's limits (units/partitionCount+1, as Pegasus). A rejected request
// is not charged. Waits are capped at half the request's timeout, so a
// delayed request still has time to run.
func (t Throttle) Control(w *Window, now int64, partitionCount int32, units uint64, timeout time.Duration) (Decision, time.Duration) {
	if !t.Enabled() {
		return Pass, 0
	}
	if now != w.second {
		w.second, w.units = now, 0
	}
	w.units += units
	share := func(u uint64) uint64 { return u/uint64(max(partitionCount, 1)) + 1 }
	capped := func(d time.Duration) time.Duration {
		if timeout > 0 {
			return min(d, timeout/2)
		}
		return d
	}
	if t.RejectUnits > 0 && w.units > share(t.RejectUnits) {
		w.units -= units
		return Reject, capped(t.RejectDelay)
	}
	if t.DelayUnits > 0 && w.units > share(t.DelayUnits) {
		return Delay, capped(t.Delay)
	}
	return Pass, 0
}
