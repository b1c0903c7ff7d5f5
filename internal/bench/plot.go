package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Geometry of the timeline plot, in SVG user units (pixels).
const (
	plotWidth      = 960
	plotHeight     = 584
	plotLeft       = 80 // room for the y tick labels and axis title
	plotRight      = 24
	plotTop        = 88 // room for the title and three rows of event labels
	plotPanelGap   = 44 // between the panels: the top panel's x tick labels
	plotBottom     = 56 // room for the x tick labels and axis title
	plotPanelWidth = plotWidth - plotLeft - plotRight
	plotPanelH     = (plotHeight - plotTop - plotBottom - plotPanelGap) / 2
)

// Event labels sit in up to eventLabelRows rows above the top panel, in
// the 11-unit font, whose characters average about eventLabelCharWidth.
const (
	eventLabelRows      = 3
	eventLabelRowHeight = 12
	eventLabelCharWidth = 6.2
	eventLabelGap       = 6
)

// minRateWidth is the shortest final second whose rate the plot draws.
const minRateWidth = 100 * time.Millisecond

// Colours of the plot.
const (
	colourThroughput = "#1f77b4"
	colourP99        = "#d62728"
	colourMax        = "#ff9896"
	colourErrorFill  = "#d62728"
	colourEventFill  = "#7f7f7f"
	colourGrid       = "#e5e5e5"
)

// WriteSVG draws the timeline as a self-contained SVG: successful operations
// per second in the top panel, p99 (and max) latency in the bottom panel,
// seconds with failed operations shaded red across both, and event windows
// shaded grey with their labels.
func (r *Report) WriteSVG(out io.Writer) error {
	p := &svgWriter{}
	n := len(r.Timeline)
	span := math.Max(float64(n), 1)
	for _, e := range r.Events {
		span = math.Max(span, e.End.Seconds())
	}
	xScale := func(sec float64) float64 { return plotLeft + sec/span*plotPanelWidth }

	var maxQPS, maxLatencyMS float64
	for _, s := range r.Timeline {
		maxQPS = math.Max(maxQPS, s.QPS)
		maxLatencyMS = math.Max(maxLatencyMS, float64(s.MaxUS)/1000)
	}
	qpsTicks := niceTicks(maxQPS)
	latTicks := niceTicks(maxLatencyMS)
	topY := plotTop
	botY := plotTop + plotPanelH + plotPanelGap

	p.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	p.printf(`<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", plotWidth, plotHeight)
	p.text(plotLeft, 20, "start", "font-size=\"14\" font-weight=\"bold\"", r.title())
	p.text(plotLeft, 38, "start", "", r.subtitle())

	// Shading goes first so that the lines stay on top. Consecutive error
	// seconds merge into one band, each with a tooltip of its failures.
	for i := 0; i < n; {
		if r.Timeline[i].Failed == 0 {
			i++
			continue
		}
		j, failed := i, int64(0)
		for j < n && r.Timeline[j].Failed > 0 {
			failed += r.Timeline[j].Failed
			j++
		}
		x0, x1 := xScale(float64(i)), xScale(float64(j))
		for _, y := range []int{topY, botY} {
			p.printf(`<rect class="error-seconds" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.18">`,
				x0, y, x1-x0, plotPanelH, colourErrorFill)
			p.printf(`<title>%s</title></rect>`+"\n", esc(errorBandTitle(i, j-1, failed)))
		}
		i = j
	}
	var labels labelRows
	for _, e := range r.Events {
		x0, x1 := xScale(e.Start.Seconds()), xScale(e.End.Seconds())
		w := math.Max(x1-x0, 1)
		for _, y := range []int{topY, botY} {
			p.printf(`<rect class="event" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.15"><title>%s</title></rect>`+"\n",
				x0, y, w, plotPanelH, colourEventFill, esc(e.Label))
		}
		// Events close together (the steps of one scenario) would print
		// their labels over each other: each label takes the first row
		// where it fits, and is left to the tooltip when none has room.
		if row, ok := labels.place(x0+2, labelWidth(e.Label)); ok {
			p.text(x0+2, float64(topY)-4-float64(row)*eventLabelRowHeight, "start", `class="event-label" fill="#404040"`, e.Label)
		}
	}

	p.panel(topY, "successful ops/s", qpsTicks, span, xScale)
	p.panel(botY, "latency (ms)", latTicks, span, xScale)
	p.text(plotLeft+plotPanelWidth/2, plotHeight-12, "middle", "", "time since start (s)")

	yIn := func(top int, ticks []float64, v float64) float64 {
		return float64(top+plotPanelH) - v/ticks[len(ticks)-1]*plotPanelH
	}
	// Throughput is defined every second (0 is a real value). Latency only
	// where something succeeded; gaps break the line.
	var qps, p99, pmax strings.Builder
	lat := func(b *strings.Builder, prevOK bool, x, y float64) {
		if prevOK {
			fmt.Fprintf(b, "L%.1f,%.1f ", x, y)
		} else {
			fmt.Fprintf(b, "M%.1f,%.1f ", x, y)
		}
	}
	prevOK := false
	// A final second cut shorter than minRateWidth (a load stopped just
	// after a second began) has too few operations to give a rate; drawn,
	// it would show a drop to near zero that never happened.
	rateSeconds := n
	if n > 0 && r.DurationS-float64(n-1) < minRateWidth.Seconds() {
		rateSeconds = n - 1
	}
	for i, s := range r.Timeline {
		x := xScale(float64(i) + 0.5)
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		if i < rateSeconds {
			fmt.Fprintf(&qps, "%s%.1f,%.1f ", cmd, x, yIn(topY, qpsTicks, s.QPS))
		}
		if s.OK > 0 {
			lat(&p99, prevOK, x, yIn(botY, latTicks, float64(s.P99US)/1000))
			lat(&pmax, prevOK, x, yIn(botY, latTicks, float64(s.MaxUS)/1000))
		}
		prevOK = s.OK > 0
	}
	p.path("throughput", qps.String(), colourThroughput, "1.8", "")
	p.path("latency-max", pmax.String(), colourMax, "1", `stroke-dasharray="3,2"`)
	p.path("latency-p99", p99.String(), colourP99, "1.8", "")
	if n == 0 {
		p.text(plotLeft+plotPanelWidth/2, float64(topY+plotPanelH/2), "middle", "", "no operations")
	}

	// Legend, top right, above the panels.
	lx := float64(plotLeft + plotPanelWidth - 330)
	ly := 38.0
	for i, item := range []struct{ label, colour, dash string }{
		{"ops/s", colourThroughput, ""},
		{"p99", colourP99, ""},
		{"max", colourMax, `stroke-dasharray="3,2"`},
	} {
		x := lx + float64(i)*70
		p.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" %s/>`+"\n",
			x, ly-4, x+18, ly-4, item.colour, item.dash)
		p.text(x+22, ly, "start", "", item.label)
	}
	p.printf(`<rect x="%.1f" y="%.1f" width="14" height="10" fill="%s" fill-opacity="0.18"/>`+"\n", lx+210, ly-9, colourErrorFill)
	p.text(lx+228, ly, "start", "", "errors")
	p.printf(`<rect x="%.1f" y="%.1f" width="14" height="10" fill="%s" fill-opacity="0.15"/>`+"\n", lx+280, ly-9, colourEventFill)
	p.text(lx+298, ly, "start", "", "events")
	p.printf("</svg>\n")
	if p.err != nil {
		return p.err
	}
	_, err := out.Write(p.buf.Bytes())
	return err
}

// labelRows tracks where each row of event labels is taken.
type labelRows [eventLabelRows]float64 // per row, the x where it is free again

// place returns the first row in which a label of width w fits at x, and
// marks it taken.
func (l *labelRows) place(x, w float64) (int, bool) {
	for row := range l {
		if x >= l[row] {
			l[row] = x + w + eventLabelGap
			return row, true
		}
	}
	return 0, false
}

// labelWidth estimates the rendered width of a label.
func labelWidth(s string) float64 {
	return float64(len([]rune(s))) * eventLabelCharWidth
}

// errorBandTitle is the tooltip of the error band over seconds first..last.
func errorBandTitle(first, last int, failed int64) string {
	if first == last {
		return fmt.Sprintf("second %d: %d failed operations", first, failed)
	}
	return fmt.Sprintf("seconds %d to %d: %d failed operations", first, last, failed)
}

func (r *Report) title() string {
	if r.Mode == "open" {
		return fmt.Sprintf("pegasus bench: open loop at %.0f ops/s, %d workers, %s keys",
			r.Rate, r.Workers, r.Workload.Distribution)
	}
	return fmt.Sprintf("pegasus bench: closed loop, %d workers, %s keys", r.Workers, r.Workload.Distribution)
}

func (r *Report) subtitle() string {
	return fmt.Sprintf("ops %d, failed %d, error seconds %d, lost writes %d, linearizability %s, p99 %d us",
		r.Ops, r.FailedOps, r.ErrorSeconds, r.LostWrites, r.Linearizability, r.Latency.P99)
}

// svgWriter accumulates SVG text.
type svgWriter struct {
	buf bytes.Buffer
	err error
}

func (p *svgWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(&p.buf, format, args...)
	}
}

// text writes an escaped text element; attrs are extra raw attributes.
func (p *svgWriter) text(x, y float64, anchor, attrs, s string) {
	p.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, attrs, esc(s))
}

func (p *svgWriter) path(class, d, colour, width, attrs string) {
	if d == "" {
		return
	}
	p.printf(`<path class="%s" d="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round" %s/>`+"\n",
		class, strings.TrimSpace(d), colour, width, attrs)
}

// panel draws one panel's frame, grid, y ticks, x ticks and axis title.
func (p *svgWriter) panel(top int, yTitle string, yTicks []float64, span float64, xScale func(float64) float64) {
	bottom := top + plotPanelH
	for _, v := range yTicks {
		y := float64(bottom) - v/yTicks[len(yTicks)-1]*plotPanelH
		p.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n",
			plotLeft, y, plotLeft+plotPanelWidth, y, colourGrid)
		p.text(plotLeft-6, y+4, "end", "", formatTick(v))
	}
	for _, v := range niceTicks(span) {
		if v > span {
			break
		}
		x := xScale(v)
		p.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", x, bottom, x, bottom+4)
		p.text(x, float64(bottom)+16, "middle", "", formatTick(v))
	}
	p.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n",
		plotLeft, top, plotPanelWidth, plotPanelH)
	cy := float64(top + plotPanelH/2)
	p.printf(`<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">%s</text>`+"\n",
		cy, cy, esc(yTitle))
}

// niceTicks returns evenly spaced tick values from 0 up to at least
// maxValue, with a step of 1, 2 or 5 times a power of ten and at most about
// six intervals.
func niceTicks(maxValue float64) []float64 {
	if !(maxValue > 0) {
		maxValue = 1
	}
	raw := maxValue / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow * 10
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	var ticks []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		ticks = append(ticks, v)
		if v >= maxValue {
			return ticks
		}
	}
}

// formatTick prints a tick value without float noise.
func formatTick(v float64) string {
	switch {
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v*10 == math.Trunc(v*10):
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

// esc escapes s for use as SVG text or attribute content.
func esc(s string) string {
	var b strings.Builder
	// Cannot fail: strings.Builder does not return errors.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
