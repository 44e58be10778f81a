package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func mbps(bps float64) string {
	if bps <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", bps/1e6)
}

func ratioText(x float64) string {
	if x <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

func mark(c Check) string {
	switch {
	case !c.Known:
		return "not measured"
	case c.Met:
		return "met"
	}
	return "MISSED"
}

// ratios are the comparison columns of the throughput table.
var ratios = []struct {
	name string
	a, b Kind
}{
	{"TLS / ggcr", EmulatorTLS, GGCR},
	{"HTTP / ggcr", EmulatorHTTP, GGCR},
	{"TLS / distribution", EmulatorTLS, Distribution},
}

func (r *Report) kinds() []Kind {
	var out []Kind
	for _, k := range Kinds {
		for _, c := range r.Config.Kinds {
			if c == k {
				out = append(out, k)
			}
		}
	}
	return out
}

// table writes the figures as rows of cells; md selects markdown pipes over aligned text.
type table struct {
	w  io.Writer
	tw *tabwriter.Writer
	md bool
}

func newTable(w io.Writer, md bool) *table {
	t := &table{w: w, md: md}
	if !md {
		t.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	}
	return t
}

func (t *table) row(cells ...string) {
	if t.md {
		fmt.Fprintf(t.w, "| %s |\n", strings.Join(cells, " | "))
		return
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) header(cells ...string) {
	t.row(cells...)
	if t.md {
		seps := make([]string, len(cells))
		for i := range seps {
			seps[i] = "---"
			if i > 0 {
				seps[i] = "--:"
			}
		}
		t.row(seps...)
	}
}

func (t *table) end() {
	if t.tw != nil {
		_ = t.tw.Flush()
	}
	fmt.Fprintln(t.w)
}

// Write prints the report: as markdown for the README (md) or as aligned text.
func (r *Report) Write(w io.Writer, md bool, chart string) {
	e := r.Env
	head := func(s string) {
		if md {
			fmt.Fprintf(w, "**%s**\n\n", s)
		} else {
			fmt.Fprintf(w, "%s\n\n", strings.ToUpper(s))
		}
	}
	fmt.Fprintf(w, "Measured %s on %s (%d cores, GOMAXPROCS %d), %s, Linux %s; load average %s at the start (other work on the machine); %d rounds, median shown; %s in all.\n\n",
		e.Date.Format("2006-01-02 15:04 MST"), e.CPU, e.Cores, e.GOMAXPROCS, e.Go, e.Kernel, e.LoadAvg, r.Config.Rounds, r.Elapsed.Round(1e9))
	fmt.Fprintf(w, "Machine limits in the same run: sha256 %s MB/s on one core, one loopback TCP stream %s MB/s.\n\n", mbps(r.Limits.SHA256), mbps(r.Limits.Loopback))

	head("Throughput, MB/s (10^6 bytes per second)")
	t := newTable(w, md)
	cols := []string{"case"}
	kinds := r.kinds()
	for _, k := range kinds {
		cols = append(cols, string(k))
	}
	for _, c := range ratios {
		cols = append(cols, c.name)
	}
	t.header(cols...)
	for _, th := range r.Throughput {
		cells := []string{th.Case.Name}
		for _, k := range kinds {
			cells = append(cells, mbps(th.Median[k]))
		}
		for _, c := range ratios {
			cells = append(cells, ratioText(th.ratio(c.a, c.b)))
		}
		t.row(cells...)
	}
	t.end()
	head("CPU per byte moved, ns (client and registry together, one process; lower is better)")
	t = newTable(w, md)
	t.header(append([]string{"case"}, cols[1:len(kinds)+1]...)...)
	for _, th := range r.Throughput {
		cells := []string{th.Case.Name}
		for _, k := range kinds {
			cells = append(cells, fmt.Sprintf("%.2f", th.CPU[k]))
		}
		t.row(cells...)
	}
	t.end()
	if md && chart != "" {
		fmt.Fprintf(w, "![Throughput per case: acr-emulator, go-containerregistry and distribution, with the machine's limits](%s)\n\n", chart)
	}

	head("Targets (issue 15)")
	t = newTable(w, md)
	t.header("target", "measured", "")
	for _, c := range r.Checks() {
		t.row(c.Target, c.Got, mark(c))
	}
	t.end()

	head("Memory after GC, per stored byte")
	t = newTable(w, md)
	t.header("registry", "stored", "heap", "RSS")
	for _, m := range r.Memory {
		t.row(string(m.Kind), sizeName(m.Stored/mib*mib), fmt.Sprintf("%.2f", m.HeapPerByte()), fmt.Sprintf("%.2f", m.RSSPerByte()))
	}
	t.end()

	head("Token requests over TLS (emulator)")
	t = newTable(w, md)
	t.header("request", "grant", "p50", "p99")
	for _, tr := range r.Tokens {
		g := "fresh (signed)"
		if tr.Cached {
			g = "cached"
		}
		t.row(tr.Grant, g, ms(tr.P50), ms(tr.P99))
	}
	t.end()

	if r.Start != nil {
		fmt.Fprintf(w, "Start to first answer (the binary): cold %s (empty data directory: CA and keys generated), warm %s, RSS when ready %d MiB.\n\n",
			ms(r.Start.Cold), ms(r.Start.Warm), r.Start.RSS/mib)
	}
	if r.Large != nil {
		fmt.Fprintf(w, "On-disk store (the binary with --blob-dir, TLS): one %s layer pushed at %s MB/s and pulled at %s MB/s; peak RSS of the process %d MiB.\n\n",
			sizeName(r.Large.Size), mbps(r.Large.Push), mbps(r.Large.Pull), r.Large.PeakRSS/mib)
	}
}
