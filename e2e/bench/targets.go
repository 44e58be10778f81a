package bench

import (
	"fmt"
	"strings"
	"time"
)

// Check is one target of issue 15, judged on this run's figures.
type Check struct {
	Target string
	Got    string
	Met    bool
	Known  bool // false when this run did not measure it
}

func (r *Report) row(prefix string) *Throughput {
	for i := range r.Throughput {
		if strings.HasPrefix(r.Throughput[i].Case.Name, prefix) {
			return &r.Throughput[i]
		}
	}
	return nil
}

// ratio of two registries' medians in a row (0 when either is missing).
func (t *Throughput) ratio(a, b Kind) float64 {
	if t == nil || t.Median[b] == 0 {
		return 0
	}
	return t.Median[a] / t.Median[b]
}

// Checks judges the targets: throughput as ratios within the run, so the machine's load weighs
// on both sides of each.
func (r *Report) Checks() []Check {
	var out []Check
	ratio := func(target, prefix string, a, b Kind, goal float64) {
		t := r.row(prefix)
		x := t.ratio(a, b)
		out = append(out, Check{Target: target, Got: fmt.Sprintf("%.2f×", x), Met: x >= goal, Known: x > 0})
	}
	big := "1×" + sizeName(256*mib/r.Config.scale())
	ratio("push "+big+" monolithic, TLS ≥ 3× ggcr", "push "+big+" monolithic", EmulatorTLS, GGCR, 3)
	ratio("push "+big+" chunked, TLS ≥ 3× ggcr", "push "+big+" chunked", EmulatorTLS, GGCR, 3)
	if t := r.row("push " + big + " monolithic"); t != nil && r.Limits.SHA256 > 0 {
		x := t.Median[EmulatorTLS] / r.Limits.SHA256
		out = append(out, Check{Target: "push " + big + " monolithic, TLS ≥ 50% of one core's sha256", Got: fmt.Sprintf("%.0f%%", 100*x), Met: x >= 0.5, Known: x > 0})
	}
	for _, t := range r.Throughput {
		if !t.Case.Pull || t.Case.Shape.Pullers != 1 {
			continue
		}
		ratio(t.Case.Name+", TLS ≥ 0.9× ggcr HTTP", t.Case.Name, EmulatorTLS, GGCR, 0.9)
		ratio(t.Case.Name+", HTTP ≥ 1.2× ggcr HTTP", t.Case.Name, EmulatorHTTP, GGCR, 1.2)
	}
	if t := r.row("64 pullers"); t != nil && r.Limits.Loopback > 0 {
		x := t.Median[EmulatorTLS] / r.Limits.Loopback
		out = append(out, Check{Target: "64 pullers over TLS ≥ 73% of one loopback stream (875 MB/s of 1.2 GB/s when filed)",
			Got: fmt.Sprintf("%.0f%% (%.0f MB/s)", 100*x, t.Median[EmulatorTLS]/1e6), Met: x >= 0.73, Known: x > 0})
	}
	for _, m := range r.Memory {
		if m.Kind == EmulatorTLS {
			x := m.RSSPerByte()
			out = append(out, Check{Target: "RSS ≤ 1.2 bytes per stored byte after GC (memory store)", Got: fmt.Sprintf("%.2f", x), Met: x <= 1.2, Known: true})
		}
	}
	var worst time.Duration
	for _, t := range r.Tokens {
		if t.Cached {
			worst = max(worst, t.P50)
		}
	}
	if worst > 0 {
		out = append(out, Check{Target: "token issuance p50 ≤ 0.5 ms for a cached grant (slowest grant type)", Got: ms(worst), Met: worst <= 500*time.Microsecond, Known: true})
	}
	if r.Start != nil {
		out = append(out, Check{Target: "cold start ≤ 100 ms to the first answer", Got: ms(r.Start.Cold), Met: r.Start.Cold <= 100*time.Millisecond, Known: true})
	}
	if r.Large != nil {
		out = append(out, Check{Target: sizeName(r.Large.Size) + " image on disk with peak RSS < 256 MiB", Got: fmt.Sprintf("%d MiB", r.Large.PeakRSS/mib),
			Met: r.Large.PeakRSS < 256*mib, Known: r.Large.PeakRSS > 0})
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
