package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// TestAsideNames: .gar and .err directories parse back to their gpid, time
// and kind; other names are not taken for either.
func TestAsideNames(t *testing.T) {
	at := time.UnixMicro(1_700_000_000_123_456)
	g := gpid{app: 3, index: 7}
	for _, suffix := range []string{garbageSuffix, errorSuffix} {
		name := asideName(g, at, suffix)
		got, movedAt, kind, ok := parseGarbageName(name)
		if !ok || got != g || !movedAt.Equal(at) || "."+kind != suffix {
			t.Errorf("%s: %v %v %q %v", name, got, movedAt, kind, ok)
		}
	}
	for _, name := range []string{"3.7", "3.7.err", "3.x.1.err", "3.7.12.errx", "3.7.gar.12"} {
		_, _, kind, ok := parseGarbageName(name)
		if name == "3.7.gar.12" {
			if !ok || kind != "gar" {
				t.Errorf("%s: old garbage form not recognised", name)
			}
			continue
		}
		if ok {
			t.Errorf("%s taken for a moved-aside replica (%s)", name, kind)
		}
	}
}

// TestIsCorrupt: damage to the files is corruption; the environment's
// failures and closed handles are not.
func TestIsCorrupt(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("open: %w", mutlog.ErrCorrupt), true},
		{errorf(ErrCorruptLog, "hole"), true},
		{errorf(ErrCorruptInfo, "bad json"), true},
		{fmt.Errorf("x: %w", storage.ErrCorrupt), true},
		{fmt.Errorf("x: %w", mutlog.ErrLogFailed), false},
		{storage.ErrClosed, false},
	} {
		if got := isCorrupt(c.err); got != c.want {
			t.Errorf("isCorrupt(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
