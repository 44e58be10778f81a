package bench

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkCases runs every case of the table against every registry, one sub-benchmark each
// (Case/registry), for profiling one of them:
//
//	go test ./e2e/bench -run '^$' -bench 'Cases/pull_4×64_MiB/acr-emulator_TLS$' -benchtime 3x -cpuprofile cpu.out
//
// b.N counts whole cases; MB/s is the case's own figure (pulls or pushes).
func BenchmarkCases(b *testing.B) {
	for _, c := range Cases(1) {
		b.Run(strings.ReplaceAll(c.Name, " ", "_"), func(b *testing.B) {
			for _, k := range Kinds {
				b.Run(strings.ReplaceAll(string(k), " ", "_"), func(b *testing.B) {
					var sum float64
					for i := 0; i < b.N; i++ {
						m, err := runCase(context.Background(), k, c)
						if err != nil {
							b.Fatal(err)
						}
						sum += m.bps
					}
					b.ReportMetric(sum/float64(b.N)/1e6, "MB/s")
				})
			}
		})
	}
}

// TestSmoke runs the whole suite at 1/64 of its sizes: the table, the chart and every target
// are produced (figures at this scale mean nothing; nothing is timed or asserted on speed).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 100 MiB")
	}
	rep, err := Run(context.Background(), Config{Rounds: 1, Scale: 64})
	if err != nil {
		t.Fatal(err)
	}
	var md, svg strings.Builder
	rep.Write(&md, true, "chart.svg")
	rep.SVG(&svg)
	for _, want := range []string{"| push 1×4 MiB monolithic |", "TLS / ggcr", "Targets", "POST /oauth2/exchange"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if !strings.HasPrefix(svg.String(), "<svg") || strings.Count(svg.String(), "<rect") < len(rep.Throughput)*len(Kinds) {
		t.Errorf("chart has too few bars:\n%s", svg.String())
	}
	for _, th := range rep.Throughput {
		for _, k := range Kinds {
			if th.Median[k] <= 0 {
				t.Errorf("%s on %s: no figure", th.Case.Name, k)
			}
		}
	}
}
