package rolling

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// availabilityWindow is the window the roll's availability gate reads: long
// enough to smooth single probes, short enough that a pause reacts within
// seconds of a dip.
const availabilityWindow = "10s"

// HTTPCollector is Collector over the collector's HTTP API.
type HTTPCollector struct {
	base   *url.URL
	client *http.Client
}

// NewHTTPCollector returns the collector at baseURL (http://host:port),
// called with creds: posting the roll's progress is an admin call, and a
// TLS cluster's collector speaks https (an http URL is upgraded).
func NewHTTPCollector(baseURL string, creds dial.Credentials) (*HTTPCollector, error) {
	if !strings.Contains(baseURL, "://") {
		baseURL = creds.HTTPScheme() + "://" + baseURL
	} else if creds.TLS != nil {
		baseURL = strings.Replace(baseURL, "http://", "https://", 1)
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: collector URL %q", ErrCollector, baseURL)
	}
	return &HTTPCollector{base: u, client: creds.HTTPClient(5 * time.Second)}, nil
}

// Node implements Collector: host:port of its HTTP address, the address
// node control knows it by.
func (c *HTTPCollector) Node() string { return c.base.Host }

// availabilityReport is the part of /api/availability the roll reads.
type availabilityReport struct {
	// Availability is null when no probe ran in the window: no evidence.
	Availability *float64 `json:"availability"`
	ClientErrors uint64   `json:"client_errors"`
	P99US        uint32   `json:"p99_us"`
}

// trafficReport is the part of /api/tables/qps the roll reads: the
// client requests of each table over the collector's last scrape of the
// replica servers.
type trafficReport struct {
	TS     int64 `json:"ts"`
	Tables []struct {
		Table      string  `json:"table"`
		ReadQPS    float64 `json:"read_qps"`
		WriteQPS   float64 `json:"write_qps"`
		ErrorQPS   float64 `json:"error_qps"`
		ReadP99US  float64 `json:"read_p99_us"`
		WriteP99US float64 `json:"write_p99_us"`
	} `json:"tables"`
}

// Status implements Collector. A report without evidence (no probe in the
// window, e.g. just after the collector started) counts as not reporting.
// The per-table traffic is best effort: a collector without it still
// reports availability.
func (c *HTTPCollector) Status(ctx context.Context) (plan.CollectorStatus, error) {
	var r availabilityReport
	if err := c.get(ctx, "/api/availability?window="+availabilityWindow, &r); err != nil {
		return plan.CollectorStatus{}, err
	}
	if r.Availability == nil {
		return plan.CollectorStatus{ClientErrors: r.ClientErrors}, nil
	}
	st := plan.CollectorStatus{Alive: true, Availability: *r.Availability, ClientErrors: r.ClientErrors,
		ProbeP99: time.Duration(r.P99US) * time.Microsecond}
	var tr trafficReport
	if err := c.get(ctx, "/api/tables/qps", &tr); err == nil && tr.TS > 0 {
		st.TrafficAt = time.Unix(tr.TS, 0)
		for _, t := range tr.Tables {
			qps := t.ReadQPS + t.WriteQPS
			slo := plan.TableSLO{Table: t.Table, QPS: qps,
				P99: time.Duration(max(t.ReadP99US, t.WriteP99US)) * time.Microsecond}
			if qps > 0 {
				slo.ErrorRate = min(t.ErrorQPS/qps, 1)
			}
			st.Tables = append(st.Tables, slo)
		}
	}
	return st, nil
}

// Version implements Collector from /api/version's protocol field.
func (c *HTTPCollector) Version(ctx context.Context) (string, error) {
	var v struct {
		Protocol string `json:"protocol"`
	}
	if err := c.get(ctx, "/api/version", &v); err != nil {
		return "", err
	}
	if v.Protocol == "" {
		return "", fmt.Errorf("%w: /api/version names no protocol", ErrCollector)
	}
	return v.Protocol, nil
}

// PostProgress implements Collector.
func (c *HTTPCollector) PostProgress(ctx context.Context, p Progress) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/api/rolling", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCollector, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: POST /api/rolling: %s", ErrCollector, resp.Status)
	}
	return nil
}

func (c *HTTPCollector) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCollector, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s", ErrCollector, path, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into); err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrCollector, path, err)
	}
	return nil
}
