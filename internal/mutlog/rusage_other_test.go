//go:build !unix

package mutlog

import "time"

// sysCPU is not available here; benchmarks then omit sys-us metrics.
func sysCPU() (time.Duration, bool) { return 0, false }
