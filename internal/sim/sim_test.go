package sim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flagSeeds = flag.Int("seeds", 0, "TestSim: run this many seeds from -seed instead of the CI set")
	flagSeed  = flag.Uint64("seed", 1, "TestSim: the first seed to run (with -seeds; alone: run just this seed)")
	flagClass = flag.String("class", "", "TestSim: force this schedule class on every seed")
	flagV     = flag.Bool("simv", false, "TestSim: print every notable event of each run as it happens")
	flagAll   = flag.Bool("known", false, "TestSim: run the seeds of knownFailures too, and fail on them")
	flagKeep  = flag.Bool("keepgoing", false, "record violations and run each seed to its end, then judge its histories")
)

// TestSim runs the whole-system simulation: by default the CI set of seeds;
// with -seeds N, N seeds from -seed, all classes, in parallel, printing a
// fault matrix at the end and progress on stderr (the matrix so far every
// 1,000 seeds).
//
//	go test ./internal/sim -run 'TestSim$' -seeds 10000 -timeout 0   # a long run
//	go test ./internal/sim -run 'TestSim$' -seed 2 -simv             # replay one seed
func TestSim(t *testing.T) {
	seeds := ciSeeds()
	if isSet("seed") && *flagSeeds == 0 {
		seeds = []uint64{*flagSeed}
	}
	if *flagSeeds > 0 {
		seeds = seeds[:0]
		for i := range *flagSeeds {
			seeds = append(seeds, *flagSeed+uint64(i))
		}
	}
	m := newMatrix()
	var mu sync.Mutex
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	start := time.Now()
	t.Run("seeds", func(t *testing.T) {
		for _, seed := range seeds {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				if hole, ok := knownFailures[seed]; ok && !*flagAll && len(seeds) != 1 {
					t.Skip("fails until its fix merges: " + hole)
				}
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				o := Options{Seed: seed, Class: *flagClass, KeepGoing: *flagKeep}
				if *flagV {
					o.Trace, o.Verbose = os.Stdout, true
				}
				r := Run(o)
				mu.Lock()
				m.add(r)
				if *flagSeeds > 0 && r.Violated() {
					fmt.Fprintf(os.Stderr, "sim: seed %d (%s) violates: %s\n", seed, r.Class, r.Violations[0])
				}
				if n := m.runs(); *flagSeeds > 0 && n%250 == 0 {
					fmt.Fprintf(os.Stderr, "sim: %d/%d seeds run, %d violating, %v\n", n, len(seeds), m.violating(),
						time.Since(start).Round(time.Second))
					if n%1000 == 0 {
						fmt.Fprint(os.Stderr, m)
					}
				}
				mu.Unlock()
				if r.Violated() {
					t.Fatalf("%s\nrerun: go test ./internal/sim -run 'TestSim$' -seed %d -simv", r.Report(), seed)
				}
				if testing.Verbose() {
					t.Log(r.Summary())
				}
			})
		}
	})
	t.Logf("%d seeds in %v\n%s", len(seeds), time.Since(start).Round(time.Millisecond), m)
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// matrix aggregates results per schedule class.
type matrix struct {
	rows map[string]*matrixRow
	// kinds counts the runs by the kind of their first violation.
	kinds map[string]int
}

type matrixRow struct {
	runs, ops, failed, unknown, lost, violations, notLinearizable, unverified int
	failedSeeds, unverifiedSeeds                                              []uint64
}

func newMatrix() *matrix {
	return &matrix{rows: make(map[string]*matrixRow), kinds: make(map[string]int)}
}

func (m *matrix) runs() (n int) {
	for _, r := range m.rows {
		n += r.runs
	}
	return n
}

func (m *matrix) violating() (n int) {
	for _, r := range m.rows {
		n += r.violations
	}
	return n
}

// violationKind sorts a violation into the property it breaks.
func violationKind(v string) string {
	switch {
	case strings.Contains(v, "applied twice"), strings.Contains(v, "returned twice"):
		return "exactly-once"
	case strings.Contains(v, "stale read"):
		return "stale read"
	case strings.Contains(v, "missing from member"), strings.Contains(v, "(lost)"):
		return "lost write"
	case strings.Contains(v, "not linearizable"):
		return "not linearizable"
	case strings.Contains(v, "two primaries"), strings.Contains(v, "another replica applied"):
		return "diverged history"
	}
	return "other"
}

func (m *matrix) add(r Result) {
	row := m.rows[r.Class]
	if row == nil {
		row = &matrixRow{}
		m.rows[r.Class] = row
	}
	row.runs++
	row.ops += r.Ops
	row.failed += r.Failed
	row.unknown += r.Unknown
	row.lost += r.Lost
	if r.Violated() {
		row.violations++
		row.failedSeeds = append(row.failedSeeds, r.Seed)
		m.kinds[violationKind(r.Violations[0])]++
	}
	if r.Linearizable == "violation" {
		row.notLinearizable++
	}
	if len(r.Unverified) > 0 {
		row.unverified++
		row.unverifiedSeeds = append(row.unverifiedSeeds, r.Seed)
	}
}

func (m *matrix) String() string {
	var names []string
	for n := range m.rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %6s %9s %7s %8s %5s %10s %13s %10s\n", "class", "runs", "ops", "failed", "unknown", "lost",
		"violating", "not-linearz.", "unverified")
	for _, n := range names {
		r := m.rows[n]
		fmt.Fprintf(&b, "%-12s %6d %9d %7d %8d %5d %10d %13d %10d", n, r.runs, r.ops, r.failed, r.unknown, r.lost,
			r.violations, r.notLinearizable, r.unverified)
		for _, l := range []struct {
			what  string
			seeds []uint64
		}{{"violating", r.failedSeeds}, {"unverified", r.unverifiedSeeds}} {
			if len(l.seeds) == 0 {
				continue
			}
			slices.Sort(l.seeds)
			s := fmt.Sprint(l.seeds)
			if len(s) > 200 {
				s = s[:200] + "...]"
			}
			fmt.Fprintf(&b, "  %s %s", l.what, s)
		}
		b.WriteString("\n")
	}
	if len(m.kinds) > 0 {
		var kinds []string
		for k := range m.kinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		b.WriteString("violating runs by kind:")
		for _, k := range kinds {
			fmt.Fprintf(&b, " %s %d;", k, m.kinds[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}
