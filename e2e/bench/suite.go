package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/bench/load"
)

// Case is one throughput measurement, run against every registry.
type Case struct {
	Name  string
	Shape load.Shape
	Pull  bool // the figure is the pulls' throughput (else the pushes')
}

const mib = 1 << 20

// Cases are the table's throughput rows; scale divides every size (1: the real run).
func Cases(scale int64) []Case {
	scale = max(scale, 1)
	// About 512 MiB moved per case: enough to be mostly transfer, short enough for 2 cores.
	ops := func(img load.Image) int { return int(max(2, (512*mib/scale)/img.Bytes())) }
	var out []Case
	for _, img := range []load.Image{{Layers: 1, LayerSize: 256 * mib / scale}, {Layers: 4, LayerSize: 64 * mib / scale}, {Layers: 32, LayerSize: mib / scale}} {
		size := fmt.Sprintf("%d×%s", img.Layers, sizeName(img.LayerSize))
		out = append(out,
			Case{Name: "push " + size + " monolithic", Shape: load.Shape{Image: img, Pushers: 1, Ops: ops(img), Upload: load.Upload{Mode: load.Monolithic}}},
			Case{Name: "push " + size + " chunked", Shape: load.Shape{Image: img, Pushers: 1, Ops: ops(img), Upload: load.Upload{Mode: load.Chunked, ChunkSize: min(load.DefaultChunkSize, img.LayerSize/4)}}},
			Case{Name: "pull " + size, Pull: true, Shape: load.Shape{Image: img, Pullers: 1, Ops: ops(img)}},
		)
	}
	one := load.Image{Layers: 1, LayerSize: 64 * mib / scale}
	out = append(out,
		Case{Name: "64 pullers of 1×" + sizeName(one.LayerSize), Pull: true, Shape: load.Shape{Image: one, Pullers: 64, Ops: 64}},
		Case{Name: "16 pushers of 4×" + sizeName(4*mib/scale), Shape: load.Shape{Image: load.Image{Layers: 4, LayerSize: 4 * mib / scale}, Pushers: 16, Ops: 32}},
	)
	return out
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// Config is what a suite run measures.
type Config struct {
	Rounds   int    // every case runs this many times per registry; the median is reported
	Scale    int64  // divides every size (a smoke run); 1 for real figures
	Kinds    []Kind // default Kinds
	Bin      string // the acr-emulator binary, for the start times ("": skipped)
	Progress io.Writer
	// Only, when set, runs just the throughput cases whose names contain it (for profiling and
	// trying a change), nothing else.
	Only string
}

// Throughput is one case's figures, bytes per second per registry (median of the rounds),
// and the CPU time this process (client and registry) spent per byte moved: on a busy machine
// wall-clock rates follow the share of CPU the process gets, CPU per byte much less so.
type Throughput struct {
	Case   Case
	Median map[Kind]float64
	Runs   map[Kind][]float64
	CPU    map[Kind]float64   // median nanoseconds of CPU per byte
	CPUs   map[Kind][]float64 // per round
}

// Report is everything one run measured.
type Report struct {
	Env        Env
	Config     Config
	Limits     Limits
	Throughput []Throughput
	Tokens     []TokenRow
	Memory     []Memory
	Start      *StartTimes
	Large      *Large
	Elapsed    time.Duration
}

// Run measures everything in one run, interleaving the registries case by case (their order
// rotating each round) so the machine's other work weighs on all of them alike.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = Kinds
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	t0 := time.Now()
	rep := &Report{Env: environment(), Config: cfg}
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "%6.1fs  "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	var err error
	if rep.Limits, err = MeasureLimits(3); err != nil {
		return nil, err
	}
	logf("machine: sha256 %.0f MB/s on one core, loopback %.0f MB/s", rep.Limits.SHA256/1e6, rep.Limits.Loopback/1e6)
	var cases []Case
	for _, c := range Cases(cfg.Scale) {
		if strings.Contains(c.Name, cfg.Only) {
			cases = append(cases, c)
		}
	}
	rep.Throughput = make([]Throughput, len(cases))
	for i, c := range cases {
		rep.Throughput[i] = Throughput{Case: c, Median: map[Kind]float64{}, Runs: map[Kind][]float64{}, CPU: map[Kind]float64{}, CPUs: map[Kind][]float64{}}
	}
	for round := 0; round < cfg.Rounds; round++ {
		for i, c := range cases {
			for j := range cfg.Kinds {
				k := cfg.Kinds[(j+round)%len(cfg.Kinds)]
				m, err := runCase(ctx, k, c)
				if err != nil {
					return nil, fmt.Errorf("%s on %s: %w", c.Name, k, err)
				}
				th := &rep.Throughput[i]
				th.Runs[k] = append(th.Runs[k], m.bps)
				th.CPUs[k] = append(th.CPUs[k], m.cpuPerByte)
				logf("round %d  %-28s %-24s %8.0f MB/s %6.2f ns CPU/byte", round+1, c.Name, k, m.bps/1e6, m.cpuPerByte)
			}
		}
	}
	for i := range rep.Throughput {
		for k, runs := range rep.Throughput[i].Runs {
			rep.Throughput[i].Median[k] = median(runs)
			rep.Throughput[i].CPU[k] = median(rep.Throughput[i].CPUs[k])
		}
	}
	if cfg.Only != "" {
		rep.Elapsed = time.Since(t0)
		return rep, nil
	}
	for _, k := range cfg.Kinds {
		m, err := measureMemory(ctx, k, cfg.Scale)
		if err != nil {
			return nil, fmt.Errorf("memory of %s: %w", k, err)
		}
		rep.Memory = append(rep.Memory, m)
		logf("memory  %-24s %.2f bytes of RSS per stored byte", k, m.RSSPerByte())
	}
	tok, err := Start(EmulatorTLS, Options{Conns: 1})
	if err != nil {
		return nil, err
	}
	rep.Tokens, err = Tokens(tok, 300)
	_ = tok.Close()
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	logf("tokens measured")
	if cfg.Bin != "" {
		if rep.Start, err = MeasureStart(ctx, cfg.Bin, 5); err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
		logf("cold start %v, warm %v", rep.Start.Cold, rep.Start.Warm)
	}
	rep.Elapsed = time.Since(t0)
	return rep, nil
}

func (c Config) scale() int64 { return max(c.Scale, 1) }

type measured struct{ bps, cpuPerByte float64 }

// runCase runs one case on a fresh registry, so each starts empty and memory does not pile up.
func runCase(ctx context.Context, k Kind, c Case) (measured, error) {
	r, err := Start(k, Options{Conns: c.Shape.Pushers + c.Shape.Pullers})
	if err != nil {
		return measured{}, err
	}
	defer func() {
		_ = r.Close()
		runtime.GC()
		debug.FreeOSMemory()
	}()
	res, err := load.Run(ctx, r.Target, c.Shape)
	if err != nil {
		return measured{}, err
	}
	if err := res.Err(); err != nil {
		return measured{}, err
	}
	s := res.Push
	if c.Pull {
		s = res.Pull
	}
	return measured{bps: res.Throughput(s), cpuPerByte: float64(res.CPU) / float64(max(s.Bytes, 1))}, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
