package oneboxcluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/onebox"
)

func TestBusiest(t *testing.T) {
	names := map[string]string{"a:1": "replica1", "a:2": "replica2", "a:3": "replica3"}
	lookup := func(addr string) (onebox.ProcessStatus, error) {
		name, ok := names[addr]
		if !ok {
			return onebox.ProcessStatus{}, fmt.Errorf("%w: %s", ErrUnknownNode, addr)
		}
		return onebox.ProcessStatus{Process: onebox.Process{Name: name, Address: addr}}, nil
	}
	for _, tc := range []struct {
		counts map[string]int
		node   string
		n      int
	}{
		{map[string]int{"a:1": 2, "a:2": 5, "a:3": 1}, "replica2", 5},
		// A tie goes to the first name, whatever the map order.
		{map[string]int{"a:3": 3, "a:2": 3, "a:1": 2}, "replica2", 3},
		{map[string]int{"a:1": 4, "a:2": 4, "a:3": 4}, "replica1", 4},
	} {
		for range 20 { // map iteration order varies between runs
			node, n, err := busiest(tc.counts, lookup)
			if err != nil || node != tc.node || n != tc.n {
				t.Fatalf("busiest(%v) = %s, %d, %v; want %s, %d", tc.counts, node, n, err, tc.node, tc.n)
			}
		}
	}
	if _, _, err := busiest(nil, lookup); !errors.Is(err, scenario.ErrNoNode) {
		t.Errorf("no primaries: err %v, want ErrNoNode", err)
	}
	if _, _, err := busiest(map[string]int{"b:9": 1}, lookup); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("unknown address: err %v, want ErrUnknownNode", err)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out strings.Builder
	p := &prefixWriter{w: &out, prefix: "roll: "}
	p.Write([]byte("step 1 of 5\nwaiting"))
	p.Write([]byte(" 1s\rwaiting 2s\rwaiting 3s\nstep 2"))
	p.flush()
	want := "roll: step 1 of 5\nroll: waiting 3s\nroll: step 2\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
