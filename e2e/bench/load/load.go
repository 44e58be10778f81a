// Package load puts a shape of load on any OCI registry, the way zot's zb does: pushers and
// pullers side by side, images of a given number and size of layers, monolithic, streamed or
// chunked uploads, for a number of operations or a duration. It reports throughput and
// per-operation latency percentiles.
//
// The client is the same for every registry, so figures compare registries, not clients: each
// operation is a fresh client run (ping, token for its scope, as one `docker pull` or `crane
// push` does), layers go up and down `Jobs` at a time over one shared connection pool, pulls read
// every blob fully and verify its digest. Layers are incompressible and never repeat (a random
// block, repeated to size, with a unique tag at the end), so no registry can skip work by
// deduplication. The command ./e2e/bench/cmd/regload runs it from a shell; `make bench` runs it
// in-process against acr-emulator, go-containerregistry and distribution.
package load

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Target is a registry to load.
type Target struct {
	Registry string // host:port
	Insecure bool   // plain HTTP
	// Transport carries the requests (TLS roots, dialer); nil: go-containerregistry's default
	// transport with as many idle connections per host as there are workers.
	Transport http.RoundTripper
	Auth      authn.Authenticator // nil: anonymous
}

func (t Target) auth() authn.Authenticator {
	if t.Auth == nil {
		return authn.Anonymous
	}
	return t.Auth
}

func (t Target) transport() http.RoundTripper {
	if t.Transport != nil {
		return t.Transport
	}
	return remote.DefaultTransport
}

// NewTransport is go-containerregistry's default transport (what crane uses) with roots for
// TLS (nil: the system's) and idle connections for conns workers, so a burst of workers does not
// redial and renegotiate TLS for every request.
func NewTransport(roots *tls.Config, conns int) *http.Transport {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	if roots != nil {
		t.TLSClientConfig = roots.Clone()
	}
	t.MaxIdleConns = max(t.MaxIdleConns, 2*conns)
	t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, 2*conns)
	return t
}

// Mode is how a push uploads each blob.
type Mode string

const (
	// Monolithic: POST, then PUT ?digest= carrying the whole blob (the spec's monolithic upload).
	Monolithic Mode = "monolithic"
	// Stream: POST, one PATCH with the whole blob, PUT ?digest= (crane, docker, containerd).
	Stream Mode = "stream"
	// Chunked: POST, a PATCH with Content-Range per ChunkSize bytes, PUT ?digest= (the Azure
	// SDKs, regclient, oras for large blobs).
	Chunked Mode = "chunked"
)

// Upload is how blobs go up.
type Upload struct {
	Mode      Mode
	ChunkSize int64 // for Chunked (default 4 MiB, the Azure SDKs' chunk)
}

// DefaultChunkSize is the Azure SDKs' upload chunk.
const DefaultChunkSize = 4 << 20

// Image is what each push writes and each pull reads.
type Image struct {
	Layers    int
	LayerSize int64
}

// Bytes is the image's layer bytes.
func (i Image) Bytes() int64 { return int64(i.Layers) * i.LayerSize }

// Shape is one load: Pushers push fresh images while Pullers pull one image pushed beforehand.
type Shape struct {
	Repo     string // default "load"
	Image    Image
	Upload   Upload
	Pushers  int
	Pullers  int
	Jobs     int           // layers in flight per operation (default 4, as crane)
	Ops      int           // stop after this many operations in all (0: only Duration)
	Duration time.Duration // stop after this long (0: only Ops)
	NoVerify bool          // pulls skip the digest check clients make
	// PullTag is the tag of Repo the pullers pull; empty: one image is pushed first (untimed)
	// and pulled.
	PullTag string
}

// Stats summarises one kind of operation.
type Stats struct {
	Ops      int
	Bytes    int64
	Errors   int
	FirstErr error
	// Latencies of the successful operations, sorted.
	Latencies []time.Duration
}

// Percentile returns the p-th percentile latency (0 when there were no operations).
func (s Stats) Percentile(p float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(s.Latencies)-1) * p / 100)
	return s.Latencies[i]
}

// Result is what a run measured.
type Result struct {
	Shape   Shape
	Push    Stats
	Pull    Stats
	Elapsed time.Duration
	Tags    []string // the tags pushed, in order
	// CPU is what this process used during the run (user and system): the client's cost, and
	// the registry's too when it runs in the same process.
	CPU time.Duration
}

// Throughput is the bytes moved per second by the operations of s over the run.
func (r *Result) Throughput(s Stats) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(s.Bytes) / r.Elapsed.Seconds()
}

// Err is the first failure of the run, nil when every operation succeeded.
func (r *Result) Err() error {
	return errors.Join(r.Push.FirstErr, r.Pull.FirstErr)
}

// Run puts the shape's load on the target and waits for it to end. Its error is about setting up
// (content, the pulled image); failed operations are counted in the result.
func Run(ctx context.Context, t Target, s Shape) (*Result, error) {
	if s.Repo == "" {
		s.Repo = "load"
	}
	if s.Jobs <= 0 {
		s.Jobs = 4
	}
	if s.Upload.Mode == "" {
		s.Upload.Mode = Stream
	}
	if s.Upload.Mode == Chunked && s.Upload.ChunkSize <= 0 {
		s.Upload.ChunkSize = DefaultChunkSize
	}
	needContent := s.Pushers > 0 || s.PullTag == ""
	if (needContent && s.Image.Layers <= 0) || s.Pushers+s.Pullers <= 0 || (s.Ops <= 0 && s.Duration <= 0) {
		return nil, fmt.Errorf("load: a shape needs workers, ops or a duration, and layers unless it only pulls a PullTag")
	}
	if t.Transport == nil {
		t.Transport = NewTransport(nil, s.Pushers+s.Pullers)
	}
	var c *content
	if needContent {
		var err error
		if c, err = newContent(s.Image.LayerSize, rand.Uint64()); err != nil {
			return nil, err
		}
	}
	w := &run{t: t, s: s, c: c, id: rand.Uint64()}
	if s.Pullers > 0 && s.PullTag == "" {
		s.PullTag = fmt.Sprintf("pulled-%x", w.id&0xffffff)
		w.s.PullTag = s.PullTag
		cl, err := t.client(ctx, s.Repo, true)
		if err != nil {
			return nil, fmt.Errorf("load: connect: %w", err)
		}
		if _, err := cl.pushImage(ctx, s.Upload, s.Jobs, w.layers(), s.PullTag); err != nil {
			return nil, fmt.Errorf("load: push the image to pull: %w", err)
		}
	}
	return w.run(ctx), nil
}

type run struct {
	t    Target
	s    Shape
	c    *content
	id   uint64 // makes layers unique across runs against one registry
	n    atomic.Uint64
	left atomic.Int64

	mu         sync.Mutex
	push, pull Stats
	tags       []string
}

func (w *run) layers() []layer {
	out := make([]layer, w.s.Image.Layers)
	for i := range out {
		l, err := w.c.layer(w.id, w.n.Add(1))
		if err != nil {
			panic(err) // sha256's state always round-trips
		}
		out[i] = l
	}
	return out
}

func (w *run) run(ctx context.Context) *Result {
	if w.s.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.s.Duration)
		defer cancel()
	}
	w.left.Store(int64(w.s.Ops))
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < w.s.Pushers+w.s.Pullers; i++ {
		push := i < w.s.Pushers
		wg.Go(func() {
			for i := 0; w.take(ctx); i++ {
				t0 := time.Now()
				n, err := w.op(ctx, push, i)
				if ctx.Err() != nil && w.s.Duration > 0 {
					return // cut by the deadline: not a failure, not a measurement
				}
				w.record(push, n, time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	res := &Result{Shape: w.s, Push: w.push, Pull: w.pull, Elapsed: time.Since(start), Tags: w.tags, CPU: cpuTime() - cpu0}
	for _, s := range []*Stats{&res.Push, &res.Pull} {
		sort.Slice(s.Latencies, func(i, j int) bool { return s.Latencies[i] < s.Latencies[j] })
	}
	return res
}

// take claims one operation, false when the run is over.
func (w *run) take(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	return w.s.Ops <= 0 || w.left.Add(-1) >= 0
}

func (w *run) op(ctx context.Context, push bool, i int) (int64, error) {
	cl, err := w.t.client(ctx, w.s.Repo, push)
	if err != nil {
		return 0, err
	}
	if push {
		tag := fmt.Sprintf("p%x-%d", w.id&0xffffff, w.n.Add(1))
		n, err := cl.pushImage(ctx, w.s.Upload, w.s.Jobs, w.layers(), tag)
		if err == nil {
			w.mu.Lock()
			w.tags = append(w.tags, tag)
			w.mu.Unlock()
		}
		return n, err
	}
	return cl.pullImage(ctx, w.s.PullTag, w.s.Jobs, !w.s.NoVerify)
}

func (w *run) record(push bool, n int64, d time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.pull
	if push {
		s = &w.push
	}
	if err != nil {
		s.Errors++
		if s.FirstErr == nil {
			s.FirstErr = err
		}
		return
	}
	s.Ops++
	s.Bytes += n
	s.Latencies = append(s.Latencies, d)
}

// cpuTime is the CPU this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
