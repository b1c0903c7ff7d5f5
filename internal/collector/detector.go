package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// layoutCheckInterval is how often the running detector asks the meta
// server whether the detection table still exists with the same layout
// (it may have been dropped, or recreated with another partition count).
const layoutCheckInterval = time.Minute

// readyWaitLimit bounds how long the detector waits, after creating the
// detection table itself, for every partition to get a primary before it
// starts counting failures: a table being created is not an outage.
const readyWaitLimit = 30 * time.Second

// probeTable is what the detector needs of a table (a *client.Table).
type probeTable interface {
	Set(ctx context.Context, hashKey, sortKey, value []byte, ttl time.Duration) error
	Get(ctx context.Context, hashKey, sortKey []byte) (value []byte, found bool, err error)
}

// detectorOptions configure the availability detector.
type detectorOptions struct {
	MetaServers []string
	// Table is the detection table, created with PartitionCount partitions
	// and ReplicaCount replicas if missing. An existing table is probed
	// with whatever partition count it has.
	Table          string
	PartitionCount int
	ReplicaCount   int
	// Interval is the time between two probe rounds; Timeout bounds each
	// probe (the write and the read separately).
	Interval time.Duration
	Timeout  time.Duration
	// TLS is the probe client's TLS identity; nil for plaintext.
	TLS *tls.Config
}

// detector is Pegasus' "available detector": every Interval it writes a
// probe record to every partition of the detection table and reads it back,
// and files each probe's outcome and latency by the second it was issued.
//
// A round launches one goroutine per partition, which writes and then
// reads. A probe that hangs for its whole timeout must not delay the
// probes of the next rounds, so rounds overlap. Two overlapping rounds on
// one partition use different sort keys (slot = round mod slots) so that
// the read of one can never see the write of the other and the read check
// stays exact: after an acknowledged write, the read must return that very
// value, or the probe counts as a failure wrapping ErrStaleRead. slots is
// chosen so that a round's slot is free again by the time it comes round
// (a write and a read take at most 2·Timeout); a slot still busy all the
// same is skipped and counted in the partition view, never blocked on.
type detector struct {
	opts    detectorOptions
	metas   *dial.Conns
	log     *availabilityLog
	board   *partitionBoard
	metrics *metrics.Collector
	logger  *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	table   probeTable
	closeFn func()
	appID   int32
	keys    []string
	busy    [][]bool // [partition][slot]
	slots   int
	round   uint64

	lastProbe   atomic.Int64 // Unix nanoseconds of the latest completed probe
	lastProblem atomic.Pointer[string]
	inflight    sync.WaitGroup
}

func newDetector(opts detectorOptions, metas *dial.Conns, m *metrics.Collector, logger *slog.Logger, now func() time.Time) *detector {
	d := &detector{
		opts: opts, metas: metas, metrics: m, logger: logger, now: now,
		log: newAvailabilityLog(), board: &partitionBoard{table: opts.Table},
	}
	// Enough slots that a round never finds its slot taken while probes
	// honour their timeouts: a slot is reused after slots·Interval, and a
	// write plus a read last at most 2·Timeout.
	d.slots = int((2*opts.Timeout)/opts.Interval) + 2
	return d
}

func (d *detector) openTable(ctx context.Context) (probeTable, func(), error) {
	c, err := client.New(ctx, client.Config{MetaServers: d.opts.MetaServers, OperationTimeout: d.opts.Timeout, TLS: d.opts.TLS})
	if err != nil {
		return nil, nil, err
	}
	t, err := c.Open(ctx, d.opts.Table)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return t, func() { c.Close() }, nil
}

// ensureTable returns the detection table's layout, creating the table
// when the meta server does not know it; created says it did.
func (d *detector) ensureTable(ctx context.Context) (resp *pb.QueryConfigResponse, created bool, err error) {
	q := func(ctx context.Context, mc pb.MetaClient) (*pb.QueryConfigResponse, error) {
		return mc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: d.opts.Table})
	}
	resp, err = callMeta(ctx, d.metas, q)
	if err != nil {
		return nil, false, err
	}
	if resp.GetError().GetCode() != pb.ErrorCode_ERR_APP_NOT_EXIST {
		return resp, false, metaErr(resp.GetError())
	}
	cr, err := callMeta(ctx, d.metas, func(ctx context.Context, mc pb.MetaClient) (*pb.CreateTableResponse, error) {
		return mc.CreateTable(ctx, &pb.CreateTableRequest{
			Name:           d.opts.Table,
			PartitionCount: int32(d.opts.PartitionCount),
			ReplicaCount:   int32(d.opts.ReplicaCount),
		})
	})
	if err != nil {
		return nil, false, err
	}
	switch cr.GetError().GetCode() {
	case pb.ErrorCode_ERR_OK:
		d.logger.Info("created detection table", "table", d.opts.Table,
			"partition_count", d.opts.PartitionCount, "replica_count", d.opts.ReplicaCount)
		created = true
	case pb.ErrorCode_ERR_APP_EXIST:
		// Another collector created it first: probe theirs.
	default:
		return nil, false, fmt.Errorf("create detection table %q: %w", d.opts.Table, metaErr(cr.GetError()))
	}
	resp, err = callMeta(ctx, d.metas, q)
	if err != nil {
		return nil, created, err
	}
	return resp, created, metaErr(resp.GetError())
}

// prepare makes the detector ready to probe: the detection table exists,
// is open, and the probe keys match its partition count. It is called
// until it succeeds, and again by the layout check. With waitPrimaries, a
// table this call created is not ready until every partition has a
// primary (it reports created so the caller can keep waiting).
func (d *detector) prepare(ctx context.Context, waitPrimaries bool) (created bool, err error) {
	resp, created, err := d.ensureTable(ctx)
	if err != nil {
		return created, err
	}
	n := int(resp.GetTable().GetPartitionCount())
	if (waitPrimaries || created) && !allHavePrimaries(resp) {
		return created, fmt.Errorf("%w: detection table %q has partitions without a primary", ErrTableNotReady, d.opts.Table)
	}
	keys, err := probeHashKeys(n)
	if err != nil {
		return created, err
	}
	d.mu.Lock()
	opened := d.table != nil
	d.mu.Unlock()
	if !opened {
		t, closeFn, err := d.openTable(ctx)
		if err != nil {
			return created, fmt.Errorf("open detection table %q: %w", d.opts.Table, err)
		}
		d.mu.Lock()
		d.table, d.closeFn = t, closeFn
		d.mu.Unlock()
	}
	d.install(resp.GetTable().GetAppId(), keys)
	return created, nil
}

// install switches probing to a layout unless it is the current one.
func (d *detector) install(appID int32, keys []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.appID == appID && len(d.keys) == len(keys) {
		return
	}
	if d.keys != nil {
		d.logger.Warn("detection table layout changed", "table", d.opts.Table,
			"app_id", appID, "partition_count", len(keys), "old_app_id", d.appID, "old_partition_count", len(d.keys))
	}
	d.appID, d.keys = appID, keys
	d.busy = make([][]bool, len(keys))
	for i := range d.busy {
		d.busy[i] = make([]bool, d.slots)
	}
	d.board.reset(d.opts.Table, appID, keys)
}

func allHavePrimaries(resp *pb.QueryConfigResponse) bool {
	for _, pc := range resp.GetPartitions() {
		if pc.GetPrimary() == "" {
			return false
		}
	}
	return len(resp.GetPartitions()) > 0
}

// startRound launches one probe of every partition, all filed under the
// second issued falls in, and returns at once. Wait blocks until they end.
func (d *detector) startRound(ctx context.Context, issued time.Time) {
	// The gauge covers the minute before this round: the seconds whose
	// probes have (nearly all) completed.
	if r, ok := d.log.ratioSince(issued.Add(-time.Second), time.Minute); ok {
		d.metrics.Availability.Set(r)
	}
	d.mu.Lock()
	if d.table == nil {
		d.mu.Unlock()
		return
	}
	t, keys := d.table, d.keys
	round := d.round
	d.round++
	slot := int(round % uint64(d.slots))
	d.mu.Unlock()

	// The value names the round and the moment, so a stale read shows
	// which write it missed.
	value := []byte(strconv.FormatUint(round, 10) + "@" + issued.UTC().Format(time.RFC3339Nano))
	sortKey := []byte("probe_" + strconv.Itoa(slot))
	for pidx, hashKey := range keys {
		if !d.acquire(pidx, slot, len(keys)) {
			d.board.skipped(pidx)
			continue
		}
		d.inflight.Add(1)
		go func() {
			defer d.inflight.Done()
			defer d.release(pidx, slot, len(keys))
			d.probe(ctx, t, pidx, []byte(hashKey), sortKey, value, issued)
		}()
	}
}

// Wait blocks until every probe started so far has ended.
func (d *detector) Wait() { d.inflight.Wait() }

// acquire and release guard a (partition, slot) pair. n is the layout's
// partition count, so that a probe of a replaced layout touches nothing.
func (d *detector) acquire(pidx, slot, n int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.busy) != n || d.busy[pidx][slot] {
		return false
	}
	d.busy[pidx][slot] = true
	return true
}

func (d *detector) release(pidx, slot, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.busy) == n {
		d.busy[pidx][slot] = false
	}
}

// probe writes value and reads it back. A probe cut short by ctx (the
// collector shutting down) is not counted: it says nothing of the cluster.
func (d *detector) probe(ctx context.Context, t probeTable, pidx int, hashKey, sortKey, value []byte, issued time.Time) {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	werr := t.Set(wctx, hashKey, sortKey, value, 0)
	cancel()
	if ctx.Err() != nil {
		return
	}
	d.observe(pidx, ProbeWrite, issued, time.Since(start), werr)

	start = time.Now()
	rctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	got, found, rerr := t.Get(rctx, hashKey, sortKey)
	cancel()
	if ctx.Err() != nil {
		return
	}
	// Only an acknowledged write obliges the read; after a failed write
	// the record may hold either value.
	if rerr == nil && werr == nil && (!found || string(got) != string(value)) {
		if !found {
			got = []byte("<not found>")
		}
		rerr = fmt.Errorf("%w: partition %d wrote %q, read %q", ErrStaleRead, pidx, value, got)
	}
	d.observe(pidx, ProbeRead, issued, time.Since(start), rerr)
}

func (d *detector) observe(pidx int, kind ProbeKind, issued time.Time, latency time.Duration, err error) {
	d.log.record(issued, latency, err == nil)
	result := "ok"
	if err != nil {
		result = "error"
	}
	d.metrics.Probes.WithLabelValues(string(kind), result).Inc()
	d.metrics.ProbeLatency.WithLabelValues(string(kind)).Observe(latency.Seconds())
	d.lastProbe.Store(time.Now().UnixNano())

	// Log when a partition starts or stops failing, not every failure: an
	// outage of an hour would otherwise write thousands of lines.
	changed, failedBefore := d.board.record(pidx, kind, issued, latency, err)
	switch {
	case changed && err != nil:
		level := slog.LevelWarn
		if errors.Is(err, ErrStaleRead) {
			level = slog.LevelError
		}
		d.logger.Log(context.Background(), level, "partition probe failing", "table", d.opts.Table,
			"partition_index", pidx, "kind", kind, "latency", latency, "err", err)
	case changed:
		d.logger.Info("partition probe recovered", "table", d.opts.Table,
			"partition_index", pidx, "failed_probes", failedBefore)
	}
}

// Run probes every Interval until ctx ends, then waits for the probes in
// flight (they end with ctx). It retries preparing the detection table,
// and rechecks its layout every layoutCheckInterval.
func (d *detector) Run(ctx context.Context) {
	defer func() {
		d.Wait()
		d.mu.Lock()
		if d.closeFn != nil {
			d.closeFn()
		}
		d.mu.Unlock()
	}()
	if !d.prepareUntilReady(ctx) {
		return
	}
	ticker := time.NewTicker(d.opts.Interval)
	defer ticker.Stop()
	lastCheck := time.Now()
	var checking atomic.Bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		d.startRound(ctx, d.now())
		if time.Since(lastCheck) >= layoutCheckInterval && checking.CompareAndSwap(false, true) {
			lastCheck = time.Now()
			d.inflight.Add(1)
			go func() {
				defer d.inflight.Done()
				defer checking.Store(false)
				if _, err := d.prepare(ctx, false); err != nil && ctx.Err() == nil {
					d.logger.Warn("detection table check failed; probing the known layout", "table", d.opts.Table, "err", err)
				}
			}()
		}
	}
}

// prepareUntilReady calls prepare with a capped backoff until it succeeds
// or ctx ends, and reports which.
func (d *detector) prepareUntilReady(ctx context.Context) bool {
	wait := 100 * time.Millisecond
	// Set once this detector created the table, until readyWaitLimit
	// passes: a table that stays without primaries that long is an outage
	// after all, and probing starts so the numbers say so.
	var createdAt time.Time
	for attempt := 1; ; attempt++ {
		waitPrimaries := !createdAt.IsZero() && time.Since(createdAt) < readyWaitLimit
		created, err := d.prepare(ctx, waitPrimaries)
		if created {
			createdAt = time.Now()
		}
		if err == nil {
			d.lastProblem.Store(nil)
			d.mu.Lock()
			n := len(d.keys)
			d.mu.Unlock()
			d.logger.Info("availability detector probing", "table", d.opts.Table, "partitions", n,
				"interval", d.opts.Interval, "timeout", d.opts.Timeout)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		msg := err.Error()
		d.lastProblem.Store(&msg)
		if attempt == 1 || attempt%10 == 0 {
			d.logger.Warn("availability detector not ready", "table", d.opts.Table, "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// health reports whether the detector completed a probe recently enough
// to be trusted, and why not.
func (d *detector) health() (ok bool, lastProbe time.Time, problem string) {
	if p := d.lastProblem.Load(); p != nil {
		problem = *p
	}
	ns := d.lastProbe.Load()
	if ns == 0 {
		if problem == "" {
			problem = "no probe has completed yet"
		}
		return false, time.Time{}, problem
	}
	lastProbe = time.Unix(0, ns)
	// A round's first probe ends within Timeout of its start, and rounds
	// start every Interval: three intervals plus two timeouts of silence
	// mean the detector is stuck or every probe is hanging.
	if stale := time.Since(lastProbe); stale > 3*d.opts.Interval+2*d.opts.Timeout {
		return false, lastProbe, fmt.Sprintf("no probe completed for %v", stale.Round(time.Millisecond))
	}
	return true, lastProbe, ""
}
