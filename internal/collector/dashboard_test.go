package collector

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pegasus-go/pegasus/internal/metrics"
)

const dashboardPath = "../../deploy/grafana-dashboard.json"

// definedSeries returns the name of every series the roles define, with
// its label names, read from the metrics package's own descriptors (every
// field of each role's struct, and what each registry always exports, such
// as pegasus_build_info).
func definedSeries(t *testing.T) map[string]map[string]bool {
	t.Helper()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	constLabels := regexp.MustCompile(`constLabels: \{([^}]*)\}`)
	constLabel := regexp.MustCompile(`(\w+)="`)
	varLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	out := map[string]map[string]bool{}
	add := func(d *prometheus.Desc) {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		labels := map[string]bool{}
		if c := constLabels.FindStringSubmatch(d.String()); c != nil {
			for _, l := range constLabel.FindAllStringSubmatch(c[1], -1) {
				labels[l[1]] = true
			}
		}
		if v := varLabels.FindStringSubmatch(d.String()); v != nil && v[1] != "" {
			for _, l := range strings.Split(v[1], ",") {
				labels[l] = true
			}
		}
		out[m[1]] = labels
	}
	for _, role := range []any{metrics.NewReplica(), metrics.NewMeta(), metrics.NewCollector()} {
		v := reflect.ValueOf(role).Elem()
		for i := range v.NumField() {
			c, ok := v.Field(i).Interface().(prometheus.Collector)
			if !ok || v.Type().Field(i).Anonymous {
				continue
			}
			descs := make(chan *prometheus.Desc, 4)
			c.Describe(descs)
			close(descs)
			for d := range descs {
				add(d)
			}
		}
		families, err := role.(interface{ Gatherer() prometheus.Gatherer }).Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if name := f.GetName(); strings.HasPrefix(name, "pegasus_") && out[name] == nil {
				labels := map[string]bool{}
				for _, l := range f.GetMetric()[0].GetLabel() {
					labels[l.GetName()] = true
				}
				out[name] = labels
			}
		}
	}
	if len(out) < 15 || out["pegasus_build_info"] == nil {
		t.Fatalf("found only %d series in internal/metrics", len(out))
	}
	return out
}

// scrapeLabels are the labels Prometheus adds to every series it scrapes.
var scrapeLabels = map[string]bool{"instance": true, "job": true}

// The dashboard queries only series that exist, and every series the roles
// export has a panel: a renamed or added series fails here, not on a
// dashboard nobody looks at until an incident.
func TestDashboardCoversTheDefinedSeries(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardPath, err)
	}
	if dash.UID == "" {
		t.Error("dashboard has no uid")
	}
	defined := definedSeries(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	series := regexp.MustCompile(`pegasus_[a-z0-9_]+`)
	grouping := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matchers := regexp.MustCompile(`(pegasus_[a-z0-9_]+)\{([^}]*)\}`)
	matcherLabel := regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)`)
	check := func(where, expr string) {
		if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "[") != strings.Count(expr, "]") {
			t.Errorf("%s: unbalanced expression %q", where, expr)
		}
		// The labels any series of the expression has, with le for
		// histogram buckets and what the scrape adds.
		labels := map[string]bool{}
		maps.Copy(labels, scrapeLabels)
		for _, name := range series.FindAllString(expr, -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && defined[b] != nil {
					base = b
					if suffix == "_bucket" {
						labels["le"] = true
					}
				}
			}
			if defined[base] == nil {
				t.Errorf("%s: queries %s, which no role exports", where, name)
				continue
			}
			used[base] = true
			maps.Copy(labels, defined[base])
		}
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("%s: groups by %s, a label no series of %q has", where, l, expr)
				}
			}
		}
		for _, m := range matchers.FindAllStringSubmatch(expr, -1) {
			name := strings.TrimSuffix(m[1], "_bucket")
			for _, l := range matcherLabel.FindAllStringSubmatch(m[2], -1) {
				if !defined[name][l[1]] && !scrapeLabels[l[1]] && !(l[1] == "le" && name != m[1]) {
					t.Errorf("%s: selects %s{%s}, a label %s does not have", where, m[1], l[1], name)
				}
			}
		}
	}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad grid position %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the dashboard's datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, a := range dash.Annotations.List {
		check("annotation", a.Expr)
	}
	for name := range defined {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}
