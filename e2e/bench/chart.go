package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

var colors = map[Kind]string{
	EmulatorTLS:  "#1f5fa8",
	EmulatorHTTP: "#6fa8dc",
	GGCR:         "#e8871e",
	Distribution: "#3a9a47",
}

// niceStep is a round grid step giving about five lines up to top.
func niceStep(top float64) float64 {
	raw := top / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// SVG draws the throughput of every case as grouped bars, one per registry, with the machine's
// limits as dashed lines: a small self-contained file the README shows.
func (r *Report) SVG(w io.Writer) {
	kinds := r.kinds()
	const (
		bar, gap, left, top, plotH, labelH = 11.0, 18.0, 56.0, 44.0, 260.0, 64.0
	)
	groupW := bar*float64(len(kinds)) + gap
	width := left + groupW*float64(len(r.Throughput)) + 150
	height := top + plotH + labelH + 10
	maxV := max(r.Limits.SHA256, r.Limits.Loopback)
	for _, t := range r.Throughput {
		for _, v := range t.Median {
			maxV = max(maxV, v)
		}
	}
	maxV /= 1e6
	step := niceStep(maxV * 1.05)
	yTop := math.Ceil(maxV*1.05/step) * step
	y := func(v float64) float64 { return top + plotH - plotH*v/yTop }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica,Arial,sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="13" font-weight="bold">Throughput, MB/s (one client, one run; %s, %d cores, %s)</text>`+"\n",
		left, html.EscapeString(r.Env.CPU), r.Env.Cores, r.Env.Date.Format("2006-01-02"))
	for v := 0.0; v <= yTop+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+groupW*float64(len(r.Throughput)), y(v), y(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-4, y(v)+4, v)
	}
	for i, t := range r.Throughput {
		x0 := left + groupW*float64(i) + gap/2
		for j, k := range kinds {
			v := t.Median[k] / 1e6
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %.0f MB/s</title></rect>`+"\n",
				x0+bar*float64(j), y(v), bar-1, top+plotH-y(v), colors[k], html.EscapeString(t.Case.Name), k, v)
		}
		words := strings.Fields(t.Case.Name)
		lines := []string{strings.Join(words[:min(2, len(words))], " "), strings.Join(words[min(2, len(words)):], " ")}
		for l, s := range lines {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x0+bar*float64(len(kinds))/2, top+plotH+14+13*float64(l), html.EscapeString(s))
		}
	}
	legendX := left + groupW*float64(len(r.Throughput)) + 10
	for _, lim := range []struct {
		name  string
		v     float64
		color string
	}{{"sha256, one core", r.Limits.SHA256, "#c0392b"}, {"one loopback stream", r.Limits.Loopback, "#555"}} {
		if lim.v <= 0 {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="5,3"/>`+"\n", left, legendX-4, y(lim.v/1e6), y(lim.v/1e6), lim.color)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="%s">%s %.0f</text>`+"\n", legendX, y(lim.v/1e6)+4, lim.color, lim.name, lim.v/1e6)
	}
	for j, k := range kinds {
		ly := top + plotH + labelH - 34 + 0*float64(j)
		lx := left + float64(j)*170
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n", lx, ly+14, colors[k], lx+14, ly+23, html.EscapeString(string(k)))
	}
	b.WriteString("</svg>\n")
	_, _ = io.WriteString(w, b.String())
}
