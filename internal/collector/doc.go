// Package collector is the collector role: Pegasus' availability detector,
// the aggregation of the replica servers' request metrics, and the cluster
// page.
//
// # Availability detector
//
// On start the collector creates the detection table (available_detect_app,
// available_detect_partition_count partitions) unless it exists. Every
// available_detect_interval_seconds it writes a probe record to every
// partition and reads it back, each operation bounded by
// available_detect_timeout_ms. One hash key per partition is chosen by
// searching keys that route to that partition (the client's routing,
// client.PartitionHash: Pegasus' CRC-64 of the hash key mod the partition
// count), so no partition's outage goes unseen. A read must return the value its write
// just stored once the cluster acknowledged that write; anything else is a
// failed probe (ErrStaleRead), because it means an acknowledged write is
// missing.
//
// Every probe counts against the second it was issued in. The collector
// keeps every second of the last hour and every minute of the last day:
// probes, failures, availability (the success ratio) and latency (p50, p99,
// max). The latest second fills in while its probes are still running, for
// at most one probe timeout.
//
// # HTTP API (http_listen)
//
//	GET  /                              the cluster page
//	GET  /api/availability?window=10s   availability over a window (below)
//	GET  /api/availability/partitions   per-partition probe counts and last failure
//	GET  /api/tables/qps                request rates and latencies per table and node
//	GET  /api/cluster                   nodes (nodes -d), tables (ls -d), meta level
//	GET  /api/rolling                   the latest rolling-update progress
//	POST /api/rolling                   report rolling-update progress (below)
//	GET  /api/version                   protocol version, release and commit
//	GET  /metrics                       the collector's Prometheus series
//	GET  /healthz                       200 while probes complete, else 503
//
// /api/availability answers an AvailabilityReport for the window ending
// now. window is a Go duration ("10s", "5m", "1h") or a number of seconds
// ("10"), from 1 s to 24 h; it defaults to 60 s. The window covers the
// current second, which may still be filling in. Example:
//
//	{"now":1767225600,"window_seconds":10,"availability":0.9875,
//	 "probes":160,"failures":2,"p50_us":420,"p99_us":1000143,"max_us":1000512,
//	 "client_errors":2,
//	 "per_second":[{"ts":1767225591,"probes":16,"failures":0,"availability":1,
//	                "p50_us":400,"p99_us":880,"max_us":880}, ...],
//	 "per_minute":[{"ts":1767225540,...}]}
//
// availability is null when no probe was issued in the window (the
// collector just started, or cannot reach the cluster): a gate must treat
// null as "no evidence" and wait, never as healthy. The rolling-update
// orchestrator's availability gate reads
// /api/availability?window=10s and compares availability with its
// threshold; client_errors is its error counter (failed probes since the
// collector started).
//
// POST /api/rolling takes a JSON object of at most MaxProgressBytes with
// at least a status (RollingProgress); the collector keeps the latest and
// shows which node and step the roll is at and for how long. Unknown
// fields are kept and returned raw by GET /api/rolling.
//
// # Traffic aggregation
//
// Every metrics_scrape_interval_seconds the collector lists the replica
// servers (Meta.ListNodes) and reads each alive server's /metrics at the
// http address it reports. Rates are the counter increases between two
// scrapes (a counter that went backwards means the server restarted, and
// counts from zero); latencies are quantiles of the histogram bucket
// increases. Replica servers label their series with the table's app_id;
// rows are named after the table the meta server lists for it
// (Meta.ListTables, read before each scrape), "app_id=N" for an id it
// does not list. Series without the label are reported under the table
// "*", the whole cluster.
package collector
