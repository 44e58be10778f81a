package bench

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/e2e/bench/load"
)

// Memory is what a registry holds for what it stores, after a garbage collection.
type Memory struct {
	Kind   Kind
	Stored int64 // layer bytes pushed
	Heap   int64 // growth of the Go heap in use
	RSS    int64 // growth of the resident set
}

// RSSPerByte is resident bytes per stored byte.
func (m Memory) RSSPerByte() float64 { return float64(m.RSS) / float64(max(m.Stored, 1)) }

// HeapPerByte is heap bytes per stored byte.
func (m Memory) HeapPerByte() float64 { return float64(m.Heap) / float64(max(m.Stored, 1)) }

// measureMemory pushes one image of each size and upload mode (a 256 MiB layer streamed with
// its Content-Length, 4×64 MiB in 4 MiB chunks, 32×1 MiB monolithic) into a fresh registry in
// this process and reports how much the heap and the resident set grew, after a collection
// that returns free memory to the system. The client's own buffers are garbage by then.
func measureMemory(ctx context.Context, k Kind, scale int64) (Memory, error) {
	scale = max(scale, 1)
	r, err := Start(k, Options{Conns: 4})
	if err != nil {
		return Memory{}, err
	}
	defer r.Close()
	heap0, rss0 := settle()
	m := Memory{Kind: k}
	for _, s := range []load.Shape{
		{Image: load.Image{Layers: 1, LayerSize: 256 * mib / scale}, Upload: load.Upload{Mode: load.Stream}},
		{Image: load.Image{Layers: 4, LayerSize: 64 * mib / scale}, Upload: load.Upload{Mode: load.Chunked, ChunkSize: min(load.DefaultChunkSize, 16*mib/scale)}},
		{Image: load.Image{Layers: 32, LayerSize: mib / scale}, Upload: load.Upload{Mode: load.Monolithic}},
	} {
		s.Pushers, s.Ops, s.Repo = 1, 1, "memory"
		res, err := load.Run(ctx, r.Target, s)
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			return m, err
		}
		m.Stored += s.Image.Bytes()
	}
	heap1, rss1 := settle()
	m.Heap, m.RSS = heap1-heap0, rss1-rss0
	return m, nil
}

// settle collects garbage, returns it to the system and reads the heap in use and the RSS.
func settle() (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse), procStatus(os.Getpid(), "VmRSS")
}

// procStatus reads a kB field of /proc/PID/status, in bytes (0 when unavailable).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}
