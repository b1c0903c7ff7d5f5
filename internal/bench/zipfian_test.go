package bench

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// zipfianProbabilities returns the exact zipfian probabilities of ranks
// 0..n-1.
func zipfianProbabilities(n int, theta float64) []float64 {
	p := make([]float64, n)
	sum := 0.0
	for i := range p {
		p[i] = math.Pow(float64(i+1), -theta)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// sampleCounts draws from c and counts the keys drawn.
func sampleCounts(t *testing.T, c KeyChooser, n, draws int, seed uint64) []int {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	counts := make([]int, n)
	for range draws {
		k := c.Next(r)
		if k >= uint64(n) {
			t.Fatalf("drew key %d outside [0, %d)", k, n)
		}
		counts[k]++
	}
	return counts
}

// chiSquare is Pearson's statistic of counts against the expected
// probabilities.
func chiSquare(counts []int, p []float64, draws int) float64 {
	x := 0.0
	for i, c := range counts {
		e := p[i] * float64(draws)
		x += (float64(c) - e) * (float64(c) - e) / e
	}
	return x
}

func TestZipfianMatchesTheory(t *testing.T) {
	for _, tc := range []struct {
		n     int
		theta float64
	}{
		{n: 100, theta: DefaultZipfianTheta},
		{n: 100, theta: 0.5},
		{n: 20, theta: 1.5},
		{n: 1, theta: DefaultZipfianTheta},
	} {
		z, err := NewZipfianChooser(uint64(tc.n), tc.theta)
		if err != nil {
			t.Fatal(err)
		}
		const draws = 400_000
		counts := sampleCounts(t, z, tc.n, draws, 7)
		want := zipfianProbabilities(tc.n, tc.theta)

		// The head must be strictly ordered: rank frequencies decrease.
		for i := 1; i < min(tc.n, 10); i++ {
			if counts[i] >= counts[i-1] {
				t.Errorf("n=%d theta=%v: rank %d drawn %d times, not less than rank %d (%d)",
					tc.n, tc.theta, i, counts[i], i-1, counts[i-1])
			}
		}
		// The hottest ranks match their exact probabilities closely (a
		// generator with YCSB's approximation is 14-19% high on rank 2).
		for i := range min(tc.n, 5) {
			got := float64(counts[i]) / draws
			if rel := math.Abs(got/want[i] - 1); rel > 0.03 {
				t.Errorf("n=%d theta=%v: rank %d frequency %.5f, want %.5f (off by %.1f%%)",
					tc.n, tc.theta, i, got, want[i], rel*100)
			}
		}
		// And the whole distribution passes a chi-square test: for 99
		// degrees of freedom the 99.9% quantile is about 148.
		if tc.n > 1 {
			limit := float64(tc.n-1) + 5*math.Sqrt(2*float64(tc.n-1))
			if x := chiSquare(counts, want, draws); x > limit {
				t.Errorf("n=%d theta=%v: chi-square %.1f above %.1f", tc.n, tc.theta, x, limit)
			}
		}
	}
}

func TestZipfianLargeKeySpaceStaysInRange(t *testing.T) {
	const n = 1 << 40
	z, err := NewZipfianChooser(n, DefaultZipfianTheta)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	hot := 0
	for range 100_000 {
		k := z.Next(r)
		if k >= n {
			t.Fatalf("drew %d, outside [0, %d)", k, uint64(n))
		}
		if k == 0 {
			hot++
		}
	}
	// Rank 0 has probability 1/zeta(2^40, 0.99) = 3.074%; the standard
	// deviation of the count is about 55.
	if hot < 2800 || hot > 3350 {
		t.Errorf("rank 0 drawn %d times in 100000, want about 3074", hot)
	}
}

func TestZipfianSeeded(t *testing.T) {
	z, err := NewZipfianChooser(1000, DefaultZipfianTheta)
	if err != nil {
		t.Fatal(err)
	}
	draw := func(seed uint64) []uint64 {
		r := rand.New(rand.NewPCG(seed, 3))
		out := make([]uint64, 50)
		for i := range out {
			out[i] = z.Next(r)
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	same := func(x, y []uint64) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed gave different sequences")
	}
	if same(a, c) {
		t.Error("different seeds gave the same sequence")
	}
}

func TestZipfianRejectsBadParameters(t *testing.T) {
	for _, tc := range []struct {
		n     uint64
		theta float64
	}{{0, 0.99}, {10, 0}, {10, -1}, {10, math.NaN()}, {10, math.Inf(1)}} {
		if _, err := NewZipfianChooser(tc.n, tc.theta); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewZipfianChooser(%d, %v): err %v, want ErrInvalidConfig", tc.n, tc.theta, err)
		}
	}
}

func TestUniformChooserIsFlat(t *testing.T) {
	const n, draws = 16, 160_000
	u, err := NewUniformChooser(n)
	if err != nil {
		t.Fatal(err)
	}
	counts := sampleCounts(t, u, n, draws, 5)
	p := make([]float64, n)
	for i := range p {
		p[i] = 1.0 / n
	}
	// 15 degrees of freedom: the 99.9% quantile is about 37.7.
	if x := chiSquare(counts, p, draws); x > 37.7 {
		t.Errorf("chi-square %.1f: not uniform: %v", x, counts)
	}
	if _, err := NewUniformChooser(0); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewUniformChooser(0): err %v, want ErrInvalidConfig", err)
	}
}

func BenchmarkZipfianNext(b *testing.B) {
	z, err := NewZipfianChooser(1_000_000, DefaultZipfianTheta)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	var sink uint64
	for b.Loop() {
		sink += z.Next(r)
	}
	_ = sink
}
