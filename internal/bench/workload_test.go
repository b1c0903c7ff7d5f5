package bench

import (
	"errors"
	"math"
	"testing"
)

func TestWorkloadKeyNames(t *testing.T) {
	w := Workload{KeyCount: 1000, KeyPrefix: "k/"}
	for i, want := range map[uint64]string{0: "k/000", 7: "k/007", 999: "k/999"} {
		if got := w.KeyName(i); got != want {
			t.Errorf("KeyName(%d) = %q, want %q", i, got, want)
		}
	}
	if got := (Workload{KeyCount: 1, KeyPrefix: "p"}).KeyName(0); got != "p0" {
		t.Errorf("single key: %q, want p0", got)
	}
	// Appending reuses the caller's buffer.
	buf := make([]byte, 0, 16)
	if got := w.Key(buf, 5); &got[0] != &buf[:1][0] {
		t.Error("Key did not append into the given buffer")
	}
}

func TestWorkloadValidation(t *testing.T) {
	for name, w := range map[string]Workload{
		"read ratio above 1":     {ReadRatio: 1.5},
		"negative read ratio":    {ReadRatio: -0.1},
		"ratios above 1":         {ReadRatio: 0.7, DeleteRatio: 0.4},
		"value smaller than id":  {ValueSize: 4},
		"unknown distribution":   {Distribution: "latest"},
		"theta zero for zipfian": {Distribution: Zipfian, ZipfianTheta: math.NaN()},
	} {
		if err := w.withDefaults().validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := (Workload{}).withDefaults().validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestOpGeneratorMix(t *testing.T) {
	w := Workload{KeyCount: 10, Distribution: Uniform, ReadRatio: 0.6, DeleteRatio: 0.1, Seed: 9}.withDefaults()
	keys, err := w.chooser()
	if err != nil {
		t.Fatal(err)
	}
	g := newOpGenerator(w, keys, 0)
	const n = 100_000
	var kinds [numOpKinds]int
	for range n {
		kind, key := g.next()
		if key >= w.KeyCount {
			t.Fatalf("key %d out of range", key)
		}
		kinds[kind]++
	}
	for kind, want := range map[OpKind]float64{OpGet: 0.6, OpDel: 0.1, OpSet: 0.3} {
		if got := float64(kinds[kind]) / n; math.Abs(got-want) > 0.01 {
			t.Errorf("%v: fraction %.3f, want %.2f", kind, got, want)
		}
	}
}
