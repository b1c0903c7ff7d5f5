package collector

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

// web holds the cluster page: its template, script and style sheet. They
// are plain files served as they are; there is no build step.
//
//go:embed web
var web embed.FS

// staticFiles serves web/ under /static/.
var staticFiles = func() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err)
	}
	return sub
}()

var pageTemplate = template.Must(template.New("cluster.html").Funcs(template.FuncMap{
	"percent": func(a *float64) string {
		if a == nil {
			return "no data"
		}
		if *a == 1 {
			return "100%"
		}
		return fmt.Sprintf("%.3f%%", *a*100)
	},
	"micros":  func(us uint32) string { return formatMicros(float64(us)) },
	"microsf": formatMicros,
	"seconds": func(s float64) string { return (time.Duration(s) * time.Second).String() },
	"unix":    func(ts int64) string { return time.Unix(ts, 0).Format("15:04:05") },
	"millis": func(ms int64) string {
		if ms <= 0 {
			return "-"
		}
		return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
	},
}).ParseFS(web, "web/cluster.html"))

func formatMicros(us float64) string {
	switch {
	case us <= 0:
		return "-"
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 1e6:
		return fmt.Sprintf("%.1f ms", us/1000)
	}
	return fmt.Sprintf("%.2f s", us/1e6)
}

// timelineWindow is what the page's availability timeline shows.
const timelineWindow = 5 * time.Minute

// pageData is what the template renders. Initial repeats the JSON the
// script polls for, so the script draws the timeline at once from the same
// data the server rendered.
type pageData struct {
	Now        time.Time
	Cluster    ClusterView
	Timeline   AvailabilityReport
	Last10s    AvailabilityReport
	LastMinute AvailabilityReport
	Partitions PartitionsReport
	Rolling    RollingView
	Traffic    TrafficReport
	Initial    pageInitial
}

type pageInitial struct {
	Availability AvailabilityReport `json:"availability"`
	Partitions   PartitionsReport   `json:"partitions"`
}

// servePage renders the cluster page.
func (c *Collector) servePage(w http.ResponseWriter, r *http.Request) {
	now := c.now()
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	d := pageData{
		Now:        now,
		Cluster:    c.cluster.read(ctx),
		Timeline:   c.detector.log.report(now, timelineWindow),
		Last10s:    c.detector.log.report(now.Add(-time.Second), 10*time.Second),
		LastMinute: c.detector.log.report(now.Add(-time.Second), time.Minute),
		Partitions: c.detector.board.report(),
		Rolling:    c.rolling.view(now),
		Traffic:    c.aggregator.Report(),
	}
	d.Initial = pageInitial{Availability: d.Timeline, Partitions: d.Partitions}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTemplate.Execute(w, d); err != nil {
		c.logger.Warn("rendering the cluster page", "err", err)
	}
}
