package replica

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWallClockHookOffByDefault(t *testing.T) {
	t.Setenv(WallClockOffsetEnv, "")
	c := newWallClock()
	if d := time.Until(c.now()); d > time.Second || d < -time.Second {
		t.Fatalf("clock without the hook is off by %v", d)
	}
}

// TestWallClockHookSteps: with the hook on, the offset written to the file
// shifts the wall clock within the refresh period, both ways, and the
// shifted reading carries no monotonic part (a step, not a slew).
func TestWallClockHookSteps(t *testing.T) {
	file := filepath.Join(t.TempDir(), "offset")
	t.Setenv(WallClockOffsetEnv, file)
	c := newWallClock()
	for _, step := range []time.Duration{30 * time.Second, -30 * time.Second, 0} {
		if err := os.WriteFile(file, []byte(step.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := c.now()
			if d := got.Sub(time.Now().Round(0)) - step; d < time.Second && d > -time.Second {
				if got != got.Round(0) {
					t.Fatal("stepped reading carries a monotonic clock reading")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("offset %v not applied within 5 s", step)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
