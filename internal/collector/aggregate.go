package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// maxScrapeBytes bounds one /metrics body; a replica server's is a few
// tens of KiB.
const maxScrapeBytes = 8 << 20

// readOps are the operations that only read; every other one writes.
var readOps = map[string]bool{
	"get": true, "multi_get": true, "exist": true, "ttl": true, "sort_key_count": true, "scan": true,
}

// OpTraffic is one operation's rates over the last scrape interval.
type OpTraffic struct {
	Op       string  `json:"op"`
	QPS      float64 `json:"qps"`
	ErrorQPS float64 `json:"error_qps"`
	P50US    float64 `json:"p50_us"`
	P99US    float64 `json:"p99_us"`
}

// TableTraffic is one table's request rates and server-side latencies,
// summed over every replica server. Table is "*" when the replica servers
// do not label their request series by table: the row is then the whole
// cluster.
type TableTraffic struct {
	Table      string      `json:"table"`
	ReadQPS    float64     `json:"read_qps"`
	WriteQPS   float64     `json:"write_qps"`
	ErrorQPS   float64     `json:"error_qps"`
	ReadP99US  float64     `json:"read_p99_us"`
	WriteP99US float64     `json:"write_p99_us"`
	Ops        []OpTraffic `json:"ops"`
}

// NodeTraffic is one replica server's totals, or why it could not be read.
type NodeTraffic struct {
	Node        string  `json:"node"`
	HTTPAddress string  `json:"http_address"`
	Up          bool    `json:"up"`
	Error       string  `json:"error,omitempty"`
	ReadQPS     float64 `json:"read_qps"`
	WriteQPS    float64 `json:"write_qps"`
	ErrorQPS    float64 `json:"error_qps"`
}

// TrafficReport answers /api/tables/qps: rates between the last two
// scrapes of every alive replica server.
type TrafficReport struct {
	// TS is the Unix second of the latest scrape; 0 before the first.
	TS              int64          `json:"ts"`
	IntervalSeconds float64        `json:"interval_seconds"`
	Tables          []TableTraffic `json:"tables"`
	Nodes           []NodeTraffic  `json:"nodes"`
	Error           string         `json:"error,omitempty"`
}

// replicaSample is one scrape of one server.
type replicaSample struct {
	at       time.Time
	counters replicaCounters
}

// aggregator scrapes every alive replica server's /metrics and turns the
// counter increases between two scrapes into per-table rates.
type aggregator struct {
	metas    *dial.Conns
	http     *http.Client
	scheme   string
	interval time.Duration
	logger   *slog.Logger

	mu         sync.Mutex
	prev       map[string]replicaSample // by node address
	tableNames map[string]string        // app_id -> table name
	report     TrafficReport
}

func newAggregator(metas *dial.Conns, interval time.Duration, creds dial.Credentials, logger *slog.Logger) *aggregator {
	return &aggregator{
		metas: metas, interval: interval, logger: logger,
		// A scrape that takes longer than the interval would pile up.
		http:   creds.HTTPClient(min(interval, 5*time.Second)),
		scheme: creds.HTTPScheme(),
		prev:   map[string]replicaSample{},
	}
}

// Report returns the latest rates.
func (a *aggregator) Report() TrafficReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.report
}

// Run scrapes every interval until ctx ends.
func (a *aggregator) Run(ctx context.Context) {
	ticker := time.NewTicker(a.interval)
	defer ticker.Stop()
	for {
		a.scrapeCluster(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// scrapeCluster lists the replica servers and scrapes the alive ones.
func (a *aggregator) scrapeCluster(ctx context.Context) {
	a.refreshTableNames(ctx)
	resp, err := callMeta(ctx, a.metas, func(ctx context.Context, mc pb.MetaClient) (*pb.ListNodesResponse, error) {
		return mc.ListNodes(ctx, &pb.ListNodesRequest{})
	})
	if err == nil {
		err = metaErr(resp.GetError())
	}
	if err != nil {
		if ctx.Err() == nil {
			a.logger.Warn("cannot list replica servers for scraping", "err", err)
			a.mu.Lock()
			a.report.Error = err.Error()
			a.mu.Unlock()
		}
		return
	}
	a.collect(ctx, time.Now(), resp.GetNodes())
}

// refreshTableNames reads the app_id of every table from the meta server,
// so that per-table rows carry names. On failure the last names stay: a
// table's app_id never changes.
func (a *aggregator) refreshTableNames(ctx context.Context) {
	resp, err := callMeta(ctx, a.metas, func(ctx context.Context, mc pb.MetaClient) (*pb.ListTablesResponse, error) {
		return mc.ListTables(ctx, &pb.ListTablesRequest{})
	})
	if err == nil {
		err = metaErr(resp.GetError())
	}
	if err != nil {
		if ctx.Err() == nil {
			a.logger.Debug("cannot list tables to name traffic rows", "err", err)
		}
		return
	}
	names := make(map[string]string, len(resp.GetTables()))
	for _, t := range resp.GetTables() {
		names[strconv.Itoa(int(t.GetTable().GetAppId()))] = t.GetTable().GetName()
	}
	a.mu.Lock()
	a.tableNames = names
	a.mu.Unlock()
}

// tableName names the table of k: by its app_id when the series carry
// one, "app_id=N" for an id the meta server did not list (a table dropped
// or created since the last listing).
func (a *aggregator) tableName(k opKey) string {
	if k.appID == "" {
		return k.table
	}
	if name, ok := a.tableNames[k.appID]; ok {
		return name
	}
	return "app_id=" + k.appID
}

// collect scrapes nodes concurrently and installs the rates computed
// against each node's previous scrape.
func (a *aggregator) collect(ctx context.Context, now time.Time, nodes []*pb.NodeInfo) {
	type result struct {
		node     *pb.NodeInfo
		url      string
		counters replicaCounters
		err      error
	}
	results := make([]result, 0, len(nodes))
	for _, n := range nodes {
		if n.GetAlive() {
			results = append(results, result{node: n, url: metricsURL(a.scheme, n)})
		}
	}
	var wg sync.WaitGroup
	for i := range results {
		r := &results[i]
		if r.url == "" {
			r.err = fmt.Errorf("%w: replica server reports no http address", ErrScrape)
			continue
		}
		wg.Go(func() { r.counters, r.err = a.scrape(ctx, r.url) })
	}
	wg.Wait()

	a.mu.Lock()
	defer a.mu.Unlock()
	tables := map[opKey]*opDelta{}
	var nodeRows []NodeTraffic
	var elapsed time.Duration
	fresh := map[string]replicaSample{}
	for _, r := range results {
		addr := r.node.GetAddress()
		row := NodeTraffic{Node: addr, HTTPAddress: r.node.GetHttpAddress(), Up: r.err == nil}
		if r.err != nil {
			row.Error = r.err.Error()
			nodeRows = append(nodeRows, row)
			continue
		}
		fresh[addr] = replicaSample{at: now, counters: r.counters}
		prev, ok := a.prev[addr]
		if !ok {
			// First sight of the server: its counters cover its whole
			// life, not an interval. Rates start with the next scrape.
			nodeRows = append(nodeRows, row)
			continue
		}
		dt := now.Sub(prev.at)
		if dt <= 0 {
			nodeRows = append(nodeRows, row)
			continue
		}
		elapsed = max(elapsed, dt)
		for k, d := range deltas(prev.counters, r.counters) {
			qps, eqps := d.requests/dt.Seconds(), d.errors/dt.Seconds()
			if readOps[k.op] {
				row.ReadQPS += qps
			} else {
				row.WriteQPS += qps
			}
			row.ErrorQPS += eqps
			named := opKey{table: a.tableName(k), op: k.op}
			t := tables[named]
			if t == nil {
				t = &opDelta{buckets: map[float64]float64{}}
				tables[named] = t
			}
			// Rates, not counts, are summed, so servers scraped at
			// slightly different intervals add up correctly.
			t.requests += qps
			t.errors += eqps
			for le, n := range d.buckets {
				t.buckets[le] += n
			}
		}
		nodeRows = append(nodeRows, row)
	}
	// A server that is gone or down keeps no baseline: when it comes back
	// its counters restarted anyway.
	a.prev = fresh
	sort.Slice(nodeRows, func(i, j int) bool { return nodeRows[i].Node < nodeRows[j].Node })
	a.report = TrafficReport{
		TS: now.Unix(), IntervalSeconds: elapsed.Seconds(),
		Tables: tableRows(tables), Nodes: nodeRows,
	}
}

// tableRows folds per-operation rates into one row per table.
func tableRows(ops map[opKey]*opDelta) []TableTraffic {
	byTable := map[string]*TableTraffic{}
	reads, writes := map[string]map[float64]float64{}, map[string]map[float64]float64{}
	for k, d := range ops {
		t := byTable[k.table]
		if t == nil {
			t = &TableTraffic{Table: k.table}
			byTable[k.table] = t
			reads[k.table], writes[k.table] = map[float64]float64{}, map[float64]float64{}
		}
		t.Ops = append(t.Ops, OpTraffic{
			Op: k.op, QPS: d.requests, ErrorQPS: d.errors,
			P50US: bucketQuantile(0.5, d.buckets), P99US: bucketQuantile(0.99, d.buckets),
		})
		merged := writes[k.table]
		if readOps[k.op] {
			t.ReadQPS += d.requests
			merged = reads[k.table]
		} else {
			t.WriteQPS += d.requests
		}
		t.ErrorQPS += d.errors
		for le, n := range d.buckets {
			merged[le] += n
		}
	}
	rows := make([]TableTraffic, 0, len(byTable))
	for name, t := range byTable {
		t.ReadP99US = bucketQuantile(0.99, reads[name])
		t.WriteP99US = bucketQuantile(0.99, writes[name])
		sort.Slice(t.Ops, func(i, j int) bool { return t.Ops[i].Op < t.Ops[j].Op })
		rows = append(rows, *t)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Table < rows[j].Table })
	return rows
}

func (a *aggregator) scrape(ctx context.Context, url string) (replicaCounters, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScrape, err)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScrape, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", ErrScrape, url, resp.Status)
	}
	return parseReplicaMetrics(io.LimitReader(resp.Body, maxScrapeBytes))
}

// metricsURL returns where a replica server serves /metrics. A server
// listening on a wildcard address (0.0.0.0:34811) is reached on the host
// of its gRPC address.
func metricsURL(scheme string, n *pb.NodeInfo) string {
	httpAddr := n.GetHttpAddress()
	if httpAddr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, _, err := net.SplitHostPort(n.GetAddress()); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/metrics"
}
