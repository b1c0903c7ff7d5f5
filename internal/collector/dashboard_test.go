package collector

import (
	"encoding/json"
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
// its type, read from the metrics package's own descriptors.
func definedSeries(t *testing.T) map[string]bool {
	t.Helper()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	out := map[string]bool{}
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
				m := fqName.FindStringSubmatch(d.String())
				if m == nil {
					t.Fatalf("cannot read the name of %s", d)
				}
				out[m[1]] = true
			}
		}
	}
	if len(out) < 15 {
		t.Fatalf("found only %d series in internal/metrics", len(out))
	}
	return out
}

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
	series := regexp.MustCompile(`pegasus_[a-z_]+`)
	check := func(where, expr string) {
		if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "[") != strings.Count(expr, "]") {
			t.Errorf("%s: unbalanced expression %q", where, expr)
		}
		for _, name := range series.FindAllString(expr, -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && defined[b] {
					base = b
				}
			}
			if !defined[base] {
				t.Errorf("%s: queries %s, which no role exports", where, name)
			}
			used[base] = true
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
