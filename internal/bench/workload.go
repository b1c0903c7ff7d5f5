package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Distribution names how keys are chosen.
type Distribution string

const (
	// Uniform picks every key with the same probability.
	Uniform Distribution = "uniform"
	// Zipfian picks key i with probability proportional to 1/(i+1)^theta.
	Zipfian Distribution = "zipfian"
)

// Workload defaults, chosen to match the Pegasus YCSB runs (zipfian keys,
// 1 KB values) on a key space a test cluster fills in seconds.
const (
	DefaultKeyCount  = 100_000
	DefaultValueSize = 1000
	DefaultKeyPrefix = "bench-"
)

// Workload is a YCSB-style description of the operations to issue: which
// keys, which mix of reads and writes, and how large the values are.
//
// The checkers assume every key starts absent, so each run should use a key
// space no earlier run wrote to (a fresh table, or a KeyPrefix unique to the
// run).
type Workload struct {
	// KeyCount is the number of distinct keys, named KeyPrefix followed by
	// the zero-padded key index.
	KeyCount  uint64 `json:"key_count"`
	KeyPrefix string `json:"key_prefix"`
	// Distribution selects the key chooser; ZipfianTheta is its skew
	// (0 means DefaultZipfianTheta).
	Distribution Distribution `json:"distribution"`
	ZipfianTheta float64      `json:"zipfian_theta,omitempty"`
	// ReadRatio and DeleteRatio are the fractions of Get and Del
	// operations; the rest are Sets.
	ReadRatio   float64 `json:"read_ratio"`
	DeleteRatio float64 `json:"delete_ratio"`
	// ValueSize is the size in bytes of every written value; the first 8
	// bytes identify the write, so it is at least 8.
	ValueSize int `json:"value_size"`
	// Seed makes the operation sequence of every worker reproducible.
	Seed uint64 `json:"seed"`
}

// withDefaults fills the zero fields.
func (w Workload) withDefaults() Workload {
	if w.KeyCount == 0 {
		w.KeyCount = DefaultKeyCount
	}
	if w.KeyPrefix == "" {
		w.KeyPrefix = DefaultKeyPrefix
	}
	if w.Distribution == "" {
		w.Distribution = Zipfian
	}
	if w.Distribution == Zipfian && w.ZipfianTheta == 0 {
		w.ZipfianTheta = DefaultZipfianTheta
	}
	if w.ValueSize == 0 {
		w.ValueSize = DefaultValueSize
	}
	return w
}

func (w Workload) validate() error {
	switch {
	case w.ReadRatio < 0 || w.ReadRatio > 1:
		return fmt.Errorf("%w: read ratio %v not in [0, 1]", ErrInvalidConfig, w.ReadRatio)
	case w.DeleteRatio < 0 || w.ReadRatio+w.DeleteRatio > 1:
		return fmt.Errorf("%w: delete ratio %v must be >= 0 and leave read ratio + delete ratio <= 1",
			ErrInvalidConfig, w.DeleteRatio)
	case w.ValueSize < valueHeaderSize:
		return fmt.Errorf("%w: value size %d below the %d-byte value header",
			ErrInvalidConfig, w.ValueSize, valueHeaderSize)
	}
	_, err := w.chooser()
	return err
}

// chooser builds the key chooser the workload describes.
func (w Workload) chooser() (KeyChooser, error) {
	switch w.Distribution {
	case Uniform:
		return NewUniformChooser(w.KeyCount)
	case Zipfian:
		return NewZipfianChooser(w.KeyCount, w.ZipfianTheta)
	default:
		return nil, fmt.Errorf("%w: unknown key distribution %q", ErrInvalidConfig, w.Distribution)
	}
}

// Key appends the name of key index i to dst. Names have a fixed width so
// that they sort like their indexes.
func (w Workload) Key(dst []byte, i uint64) []byte {
	dst = append(dst, w.KeyPrefix...)
	width := decimalDigits(max(w.KeyCount, 1) - 1)
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], i, 10)
	for range width - len(d) {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}

// decimalDigits returns the number of decimal digits of v.
func decimalDigits(v uint64) int {
	n := 1
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}

// KeyName returns the name of key index i.
func (w Workload) KeyName(i uint64) string { return string(w.Key(nil, i)) }

// opGenerator produces one worker's operation sequence. It is not safe for
// concurrent use; each worker owns one.
type opGenerator struct {
	rng       *rand.Rand
	keys      KeyChooser
	readBelow float64 // a uniform draw below this is a Get
	delBelow  float64 // ... else below this a Del, else a Set
}

// newOpGenerator seeds worker's generator from the workload seed and the
// worker index, so runs are reproducible worker by worker.
func newOpGenerator(w Workload, keys KeyChooser, worker int) *opGenerator {
	return &opGenerator{
		rng:       rand.New(rand.NewPCG(w.Seed, uint64(worker))),
		keys:      keys,
		readBelow: w.ReadRatio,
		delBelow:  w.ReadRatio + w.DeleteRatio,
	}
}

// next returns the kind and key index of the next operation.
func (g *opGenerator) next() (OpKind, uint64) {
	u := g.rng.Float64()
	kind := OpSet
	switch {
	case u < g.readBelow:
		kind = OpGet
	case u < g.delBelow:
		kind = OpDel
	}
	return kind, g.keys.Next(g.rng)
}
