package collector

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestAggregatorRatesBetweenScrapes(t *testing.T) {
	fc := newFakeCluster(t, 2)
	a := newAggregator(nil, time.Second, dial.Credentials{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A third server is alive by the meta's account but its HTTP port is
	// closed; a fourth is dead and not scraped.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().String()
	lis.Close()
	nodes := []*pb.NodeInfo{
		{Address: fc.replicas[0].addr, Alive: true, HttpAddress: fc.replicas[0].http},
		{Address: fc.replicas[1].addr, Alive: true, HttpAddress: fc.replicas[1].http},
		{Address: "127.0.0.1:1", Alive: true, HttpAddress: closed},
		{Address: "127.0.0.1:2", Alive: false, HttpAddress: closed},
	}
	r0, r1 := fc.replicas[0].metrics, fc.replicas[1].metrics
	r0.Requests.WithLabelValues("1", "", "get").Add(500)
	r1.Requests.WithLabelValues("1", "", "set").Add(70)
	// Table 1 is known by name; app_id 9 is not (created since the last
	// table listing).
	a.tableNames = map[string]string{"1": "usertable"}

	ctx := context.Background()
	a.collect(ctx, t0, nodes)
	rep := a.Report()
	byAddr := func(rep TrafficReport) map[string]NodeTraffic {
		m := map[string]NodeTraffic{}
		for _, n := range rep.Nodes {
			m[n.Node] = n
		}
		return m
	}
	// The first scrape gives a baseline and no rates.
	nodeRows := byAddr(rep)
	if len(rep.Tables) != 0 || len(rep.Nodes) != 3 || !nodeRows[fc.replicas[0].addr].Up || !nodeRows[fc.replicas[1].addr].Up {
		t.Fatalf("first scrape: %+v", rep)
	}
	if down := nodeRows["127.0.0.1:1"]; down.Up || down.Error == "" {
		t.Fatalf("unreachable server reported as %+v", down)
	}

	// Ten seconds: 200 gets on server 0 (one slow), 50 sets and 5 errors
	// on server 1.
	r0.Requests.WithLabelValues("1", "", "get").Add(200)
	for i := range 200 {
		d := 0.0004
		if i == 0 {
			d = 0.5
		}
		r0.Latency.WithLabelValues("1", "", "get").Observe(d)
	}
	r1.Requests.WithLabelValues("1", "", "set").Add(50)
	r1.Errors.WithLabelValues("1", "", "set", "ERR_TIMEOUT").Add(5)
	for range 50 {
		r1.Latency.WithLabelValues("1", "", "set").Observe(0.003)
	}
	r1.Requests.WithLabelValues("9", "", "set").Add(30)
	a.collect(ctx, t0.Add(10*time.Second), nodes)
	rep = a.Report()
	if rep.IntervalSeconds != 10 || rep.TS != t0.Unix()+10 || len(rep.Tables) != 2 {
		t.Fatalf("second scrape: %+v", rep)
	}
	tt, other := rep.Tables[0], rep.Tables[1]
	if tt.Table != "usertable" {
		tt, other = other, tt
	}
	if other.Table != "app_id=9" || other.WriteQPS != 3 {
		t.Fatalf("unlisted table's row %+v", other)
	}
	if tt.Table != "usertable" || tt.ReadQPS != 20 || tt.WriteQPS != 5 || tt.ErrorQPS != 0.5 {
		t.Fatalf("table row %+v", tt)
	}
	// The p99 of the gets lands in the bucket holding 0.4 ms, not the
	// one slow get; the sets' in the 3 ms bucket.
	if tt.ReadP99US < 200 || tt.ReadP99US > 800 || tt.WriteP99US < 1600 || tt.WriteP99US > 3200 {
		t.Fatalf("p99 read %v µs, write %v µs", tt.ReadP99US, tt.WriteP99US)
	}
	if len(tt.Ops) != 2 || tt.Ops[0].Op != "get" || tt.Ops[1].ErrorQPS != 0.5 {
		t.Fatalf("ops %+v", tt.Ops)
	}
	nodeRows = byAddr(rep)
	if got := nodeRows[fc.replicas[0].addr]; got.ReadQPS != 20 || got.WriteQPS != 0 {
		t.Fatalf("server 0 %+v", got)
	}
	if got := nodeRows[fc.replicas[1].addr]; got.WriteQPS != 8 || got.ErrorQPS != 0.5 {
		t.Fatalf("server 1 %+v", got)
	}
}

func TestMetricsURL(t *testing.T) {
	for _, tc := range []struct{ addr, http, want string }{
		{"10.0.0.3:34801", "10.0.0.3:34811", "http://10.0.0.3:34811/metrics"},
		{"10.0.0.3:34801", "0.0.0.0:34811", "http://10.0.0.3:34811/metrics"},
		{"10.0.0.3:34801", ":34811", "http://10.0.0.3:34811/metrics"},
		{"[fd00::3]:34801", "[::]:34811", "http://[fd00::3]:34811/metrics"},
		{"10.0.0.3:34801", "", ""},
		{"10.0.0.3:34801", "nonsense", ""},
	} {
		if got := metricsURL("http", &pb.NodeInfo{Address: tc.addr, HttpAddress: tc.http}); got != tc.want {
			t.Errorf("%s / %s: %q, want %q", tc.addr, tc.http, got, tc.want)
		}
	}
}
