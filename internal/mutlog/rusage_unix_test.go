//go:build unix

package mutlog

import (
	"syscall"
	"time"
)

// sysCPU returns the system CPU time the process has used so far.
func sysCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Stime.Nano()), true
}
