package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// svgDoc is what the tests read back from a plot.
type svgDoc struct {
	elements map[string]int // element name -> count
	classes  map[string]int // class attribute -> count
	texts    []string
}

// parseSVG decodes an SVG with encoding/xml, failing on any error: the
// plot must be well-formed XML with an <svg> root.
func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	doc := svgDoc{elements: map[string]int{}, classes: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, data)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
			}
			depth++
			doc.elements[tok.Name.Local]++
			for _, a := range tok.Attr {
				if a.Name.Local == "class" {
					doc.classes[a.Value]++
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" {
				doc.texts = append(doc.texts, s)
			}
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements (depth %d)", depth)
	}
	return doc
}

func TestTimelineSVG(t *testing.T) {
	rep := &Report{
		Mode: "open", Rate: 1000, Workers: 16,
		Workload: Workload{Distribution: Zipfian},
		Timeline: []TimelineSecond{
			{Second: 0, Ops: 1000, OK: 1000, QPS: 1000, P50US: 800, P99US: 2000, MaxUS: 5000},
			{Second: 1, Ops: 1000, OK: 900, Failed: 100, QPS: 900, P50US: 900, P99US: 250_000, MaxUS: 900_000},
			{Second: 2, Ops: 1000, Failed: 1000}, // nothing succeeded: no latency point
			{Second: 3, Ops: 1000, OK: 1000, QPS: 1000, P50US: 800, P99US: 2100, MaxUS: 4000},
			{Second: 4, Ops: 1000, OK: 999, Failed: 1, QPS: 999, P50US: 800, P99US: 2100, MaxUS: 4000},
		},
		Events: []Annotation{{Label: `restart <node 2> & "wait"`, Start: 800 * time.Millisecond, End: 3200 * time.Millisecond}},
	}
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, b.Bytes())

	// Two error bands (seconds 1-2 merged, second 4), each in both panels.
	if got := doc.classes["error-seconds"]; got != 4 {
		t.Errorf("%d error-second rectangles, want 4", got)
	}
	if got := doc.classes["event"]; got != 2 {
		t.Errorf("%d event rectangles, want 2", got)
	}
	for _, class := range []string{"throughput", "latency-p99", "latency-max", "event-label"} {
		if doc.classes[class] != 1 {
			t.Errorf("%d elements of class %s, want 1", doc.classes[class], class)
		}
	}
	for _, want := range []string{
		`restart <node 2> & "wait"`, // escaped on the way in, intact on the way out
		"successful ops/s",
		"latency (ms)",
		"time since start (s)",
		"seconds 1 to 2: 1100 failed operations",
		"second 4: 1 failed operations",
	} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("no text %q in %q", want, doc.texts)
		}
	}
	// The latency line breaks at second 2, where nothing succeeded.
	p99 := pathData(t, b.String(), "latency-p99")
	if strings.Count(p99, "M") != 2 {
		t.Errorf("p99 path %q: want two segments around the empty second", p99)
	}
}

// pathData returns the d attribute of the path of the given class.
func pathData(t *testing.T, svg, class string) string {
	t.Helper()
	_, rest, ok := strings.Cut(svg, `class="`+class+`" d="`)
	if !ok {
		t.Fatalf("no path of class %s", class)
	}
	d, _, _ := strings.Cut(rest, `"`)
	return d
}

func TestTimelineSVGOfEmptyReport(t *testing.T) {
	var b bytes.Buffer
	if err := (&Report{}).WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, b.Bytes())
	if !slices.Contains(doc.texts, "no operations") {
		t.Errorf("empty plot lacks its notice: %q", doc.texts)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		max  float64
		want []float64
	}{
		{0, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{7, []float64{0, 2, 4, 6, 8}},
		{1000, []float64{0, 200, 400, 600, 800, 1000}},
		{1234, []float64{0, 500, 1000, 1500}},
	} {
		got := niceTicks(tc.max)
		if len(got) != len(tc.want) {
			t.Errorf("niceTicks(%v) = %v, want %v", tc.max, got, tc.want)
			continue
		}
		for i := range got {
			if d := got[i] - tc.want[i]; d > 1e-9 || d < -1e-9 {
				t.Errorf("niceTicks(%v) = %v, want %v", tc.max, got, tc.want)
				break
			}
		}
	}
}

func TestTimelineSVGCrowdedEventsAndShortLastSecond(t *testing.T) {
	rep := &Report{
		DurationS: 3.02, // the last second holds 20 ms of load
		Timeline: []TimelineSecond{
			{Second: 0, Ops: 100, OK: 100, QPS: 100, P99US: 1000, MaxUS: 2000},
			{Second: 1, Ops: 100, OK: 100, QPS: 100, P99US: 1000, MaxUS: 2000},
			{Second: 2, Ops: 100, OK: 100, QPS: 100, P99US: 1000, MaxUS: 2000},
			{Second: 3, Ops: 2, OK: 2, QPS: 2, P99US: 1000, MaxUS: 2000},
		},
		// Four steps within a fraction of a second: three rows of labels
		// hold the first three, the fourth is left to its tooltip.
		Events: []Annotation{
			{Label: "kill -9 replica2", Start: 1000 * time.Millisecond, End: 1100 * time.Millisecond},
			{Label: "replica2 down 3s", Start: 1100 * time.Millisecond, End: 1200 * time.Millisecond},
			{Label: "restart replica2", Start: 1200 * time.Millisecond, End: 1300 * time.Millisecond},
			{Label: "wait replica2", Start: 1300 * time.Millisecond, End: 1400 * time.Millisecond},
			// Far enough to the right to take the first row again.
			{Label: "wait healthy", Start: 2500 * time.Millisecond, End: 2600 * time.Millisecond},
		},
	}
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, b.Bytes())
	if got := doc.classes["event"]; got != 10 {
		t.Errorf("%d event rectangles, want 10 (every event is shaded)", got)
	}
	if got := doc.classes["event-label"]; got != 4 {
		t.Errorf("%d event labels, want 4", got)
	}
	for _, label := range []string{"kill -9 replica2", "replica2 down 3s", "restart replica2", "wait healthy"} {
		if !slices.Contains(doc.texts, label) {
			t.Errorf("label %q not drawn", label)
		}
	}
	// The dropped label still names its window, in the tooltip.
	if !slices.Contains(doc.texts, "wait replica2") {
		t.Error("wait replica2 is neither a label nor a tooltip")
	}
	// Throughput has a point per full second only: the 20 ms stub would
	// plot a drop to 2 ops/s.
	if got := strings.Count(pathData(t, b.String(), "throughput"), ","); got != 3 {
		t.Errorf("throughput path has %d points, want 3", got)
	}
	if got := strings.Count(pathData(t, b.String(), "latency-p99"), ","); got != 4 {
		t.Errorf("p99 path has %d points, want 4 (latency of the last second is still real)", got)
	}
}
