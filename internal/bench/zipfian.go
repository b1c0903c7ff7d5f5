package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DefaultZipfianTheta is the skew YCSB uses for its zipfian workloads, and
// the one behind Pegasus' published YCSB figures.
const DefaultZipfianTheta = 0.99

// KeyChooser picks the index of the next key to operate on, in [0, n).
// Implementations are immutable after construction and shared by all
// workers; each worker brings its own random source.
type KeyChooser interface {
	Next(r *rand.Rand) uint64
}

// UniformChooser picks every key with the same probability.
type UniformChooser struct{ n uint64 }

// NewUniformChooser returns a chooser over n keys; n must be positive.
func NewUniformChooser(n uint64) (*UniformChooser, error) {
	if n == 0 {
		return nil, fmt.Errorf("%w: key count must be positive", ErrInvalidConfig)
	}
	return &UniformChooser{n: n}, nil
}

// Next implements KeyChooser.
func (u *UniformChooser) Next(r *rand.Rand) uint64 { return r.Uint64N(u.n) }

// ZipfianChooser picks key i (0-based rank) with probability proportional to
// 1/(i+1)^theta, so key 0 is the hottest.
//
// It samples with rejection-inversion (Hörmann and Derflinger, "Rejection-
// inversion to generate variates from monotone discrete distributions",
// ACM TOMACS 1996), which is exact: every rank gets precisely its zipfian
// probability. The approximation YCSB uses (Gray et al., SIGMOD 1994) is
// exact only for the two hottest ranks and over-samples the next few by
// 10-20%, and needs an O(n) set-up; rejection-inversion needs O(1) set-up
// and rejects only a few percent of its draws.
//
// The idea: the continuous hat h(x) = x^-theta bounds the probability
// weight of rank k on [k-1/2, k+1/2]. Drawing y uniformly under the hat's
// integral H and inverting gives x with density h; x rounds to rank k, and
// the draw is accepted when y falls in the part of k's slice whose area
// equals k's exact weight h(k). Rejected draws retry.
type ZipfianChooser struct {
	n     float64
	theta float64
	// hLow and hHigh bound the uniform draw: H(3/2)-h(1) and H(n+1/2).
	// Subtracting h(1) from H(3/2) makes rank 1's slice exactly h(1) wide,
	// since there is no slice below it to borrow from.
	hLow, hHigh float64
	// squeeze accepts a draw without evaluating H when x lies this close
	// below its rank, a region that is inside the acceptance area for every
	// rank.
	squeeze float64
}

// NewZipfianChooser returns a zipfian chooser over n keys with skew theta,
// which must be positive. YCSB's skew is DefaultZipfianTheta.
func NewZipfianChooser(n uint64, theta float64) (*ZipfianChooser, error) {
	if n == 0 {
		return nil, fmt.Errorf("%w: key count must be positive", ErrInvalidConfig)
	}
	if !(theta > 0) || math.IsInf(theta, 0) {
		return nil, fmt.Errorf("%w: zipfian theta %v must be a positive number", ErrInvalidConfig, theta)
	}
	z := &ZipfianChooser{n: float64(n), theta: theta}
	z.hLow = z.hatIntegral(1.5) - 1
	z.hHigh = z.hatIntegral(z.n + 0.5)
	z.squeeze = 2 - z.hatIntegralInverse(z.hatIntegral(2.5)-z.hat(2))
	return z, nil
}

// Next implements KeyChooser.
func (z *ZipfianChooser) Next(r *rand.Rand) uint64 {
	for {
		y := z.hHigh + r.Float64()*(z.hLow-z.hHigh)
		x := z.hatIntegralInverse(y)
		k := math.Floor(x + 0.5)
		// Rounding can push k just outside [1, n] at the ends.
		k = min(max(k, 1), z.n)
		if k-x <= z.squeeze || y >= z.hatIntegral(k+0.5)-z.hat(k) {
			return uint64(k) - 1
		}
	}
}

// hat is h(x) = x^-theta, the continuous envelope of the rank weights.
func (z *ZipfianChooser) hat(x float64) float64 {
	return math.Exp(-z.theta * math.Log(x))
}

// hatIntegral is H(x) = (x^(1-theta) - 1) / (1-theta), an antiderivative of
// h, written so that it stays accurate as theta approaches 1 (where it
// tends to log x).
func (z *ZipfianChooser) hatIntegral(x float64) float64 {
	logX := math.Log(x)
	return expm1Ratio((1-z.theta)*logX) * logX
}

// hatIntegralInverse inverts hatIntegral.
func (z *ZipfianChooser) hatIntegralInverse(y float64) float64 {
	t := y * (1 - z.theta)
	// t < -1 is outside H's range; it can only come from rounding.
	t = max(t, -1)
	return math.Exp(log1pRatio(t) * y)
}

// expm1Ratio returns (e^t - 1)/t, continuous at t = 0.
func expm1Ratio(t float64) float64 {
	if math.Abs(t) > 1e-8 {
		return math.Expm1(t) / t
	}
	return 1 + t/2*(1+t/3*(1+t/4))
}

// log1pRatio returns log(1+t)/t, continuous at t = 0.
func log1pRatio(t float64) float64 {
	if math.Abs(t) > 1e-8 {
		return math.Log1p(t) / t
	}
	return 1 - t*(1.0/2-t*(1.0/3-t/4))
}
