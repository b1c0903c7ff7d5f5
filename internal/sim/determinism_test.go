package sim

import "testing"

// TestSimDeterministic runs seeds twice and checks that the two runs are
// the same execution: a seed must replay exactly, or a failing seed could
// not be debugged.
func TestSimDeterministic(t *testing.T) {
	for _, seed := range []uint64{3, 7, 14} {
		a, b := Run(Options{Seed: seed}), Run(Options{Seed: seed})
		if a.Fingerprint != b.Fingerprint || a.Summary() != b.Summary() {
			t.Fatalf("seed %d ran two ways:\n%s\n%s", seed, a.Summary(), b.Summary())
		}
	}
}
