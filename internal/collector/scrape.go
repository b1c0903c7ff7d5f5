package collector

import (
	"fmt"
	"io"
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The replica server series the aggregation reads (internal/metrics).
const (
	seriesRequests = "pegasus_replica_requests_total"
	seriesErrors   = "pegasus_replica_request_errors_total"
	seriesLatency  = "pegasus_replica_request_duration_seconds"
)

// allTables is the table name of series that carry no table label: the
// replica servers then count requests per operation for all tables
// together, and the aggregation can only report the cluster as a whole.
const allTables = "*"

// opKey names one operation on one table. Replica servers label their
// series with the table's app_id (as Pegasus does); the aggregation fills
// in table, the name the meta server lists for that app_id.
type opKey struct {
	appID string
	table string
	op    string
}

// opCounters are the cumulative counters of one operation on one server,
// as read from one scrape.
type opCounters struct {
	requests float64
	errors   float64 // summed over error codes
	// buckets maps a latency bucket's upper bound (seconds, +Inf last) to
	// its cumulative count.
	buckets map[float64]float64
}

// replicaCounters is one scrape of one replica server.
type replicaCounters map[opKey]*opCounters

func (rc replicaCounters) at(labels []*dto.LabelPair) *opCounters {
	k := opKey{table: allTables}
	for _, l := range labels {
		switch l.GetName() {
		case "op":
			k.op = l.GetValue()
		case "app_id":
			k.appID = l.GetValue()
		}
	}
	c := rc[k]
	if c == nil {
		c = &opCounters{buckets: map[float64]float64{}}
		rc[k] = c
	}
	return c
}

// parseReplicaMetrics reads a replica server's /metrics (Prometheus text)
// and returns the request counters per table and operation. Other series
// are ignored; a series of an unexpected type is an error wrapping
// ErrScrape, as is text that does not parse.
func parseReplicaMetrics(r io.Reader) (replicaCounters, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScrape, err)
	}
	rc := replicaCounters{}
	for name, want := range map[string]dto.MetricType{
		seriesRequests: dto.MetricType_COUNTER,
		seriesErrors:   dto.MetricType_COUNTER,
		seriesLatency:  dto.MetricType_HISTOGRAM,
	} {
		f := families[name]
		if f == nil {
			continue
		}
		if f.GetType() != want {
			return nil, fmt.Errorf("%w: %s is a %s, want a %s", ErrScrape, name, f.GetType(), want)
		}
		for _, m := range f.GetMetric() {
			c := rc.at(m.GetLabel())
			switch name {
			case seriesRequests:
				c.requests += m.GetCounter().GetValue()
			case seriesErrors:
				c.errors += m.GetCounter().GetValue()
			case seriesLatency:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					// The +Inf bucket may or may not be listed; the
					// sample count is always the same number.
					if !math.IsInf(b.GetUpperBound(), 1) {
						c.buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
					}
				}
				c.buckets[math.Inf(1)] += float64(h.GetSampleCount())
			}
		}
	}
	return rc, nil
}

// opDelta is what one operation did on one server between two scrapes.
type opDelta struct {
	requests, errors float64
	buckets          map[float64]float64
}

// counterDelta is cur-prev, or cur when the counter went backwards: the
// server restarted between the scrapes and counted from zero since.
func counterDelta(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// deltas returns what happened on one server between two scrapes. An
// operation absent from prev is new (or the server restarted) and counts
// from zero.
func deltas(prev, cur replicaCounters) map[opKey]opDelta {
	out := make(map[opKey]opDelta, len(cur))
	for k, c := range cur {
		p := prev[k]
		if p == nil {
			p = &opCounters{}
		}
		d := opDelta{
			requests: counterDelta(p.requests, c.requests),
			errors:   counterDelta(p.errors, c.errors),
			buckets:  make(map[float64]float64, len(c.buckets)),
		}
		// A histogram restarted as a whole when its total went backwards.
		reset := c.buckets[math.Inf(1)] < p.buckets[math.Inf(1)]
		for le, n := range c.buckets {
			if reset {
				d.buckets[le] = n
			} else {
				d.buckets[le] = counterDelta(p.buckets[le], n)
			}
		}
		out[k] = d
	}
	return out
}

// bucketQuantile estimates the q-quantile in microseconds from cumulative
// bucket counts, interpolating linearly inside the bucket the rank falls
// in as Prometheus' histogram_quantile does. It returns 0 when there were
// no observations, and the largest finite bound when the rank falls in the
// +Inf bucket.
func bucketQuantile(q float64, buckets map[float64]float64) float64 {
	bounds := make([]float64, 0, len(buckets))
	for le := range buckets {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := buckets[bounds[len(bounds)-1]]
	if total <= 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, le := range bounds {
		n := buckets[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return lower * 1e6
			}
			if n == below {
				return le * 1e6
			}
			return (lower + (le-lower)*(rank-below)/(n-below)) * 1e6
		}
		lower, below = le, n
	}
	return lower * 1e6
}
