package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/bench/load"
	"github.com/google/go-containerregistry/pkg/authn"
)

// process is the acr-emulator binary running on free loopback ports.
type process struct {
	cmd                *exec.Cmd
	httpsAddr, httpURL string
	dataDir            string
	ready              time.Duration // from exec to the first answer of /_emulator/health
	exited             chan struct{}
	stderr             bytes.Buffer
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startProcess runs bin serve with dataDir and extra flags and waits for its first answer.
func startProcess(ctx context.Context, bin, dataDir string, extra ...string) (*process, error) {
	httpsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--https-addr", httpsAddr, "--http-addr", httpAddr, "--proxy-addr", "-",
		"--data-dir", dataDir, "--log-level", "error"}, extra...)
	p := &process{cmd: exec.Command(bin, args...), httpsAddr: httpsAddr, httpURL: "http://" + httpAddr, dataDir: dataDir}
	p.cmd.Stderr = &p.stderr
	p.exited = make(chan struct{})
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited: %s", bin, bytes.TrimSpace(p.stderr.Bytes()))
		default:
		}
		res, err := c.Get(p.httpURL + "/_emulator/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				p.ready = time.Since(t0)
				return p, nil
			}
		}
		if time.Since(t0) > 30*time.Second || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("%s did not answer in 30s", bin)
		}
		time.Sleep(time.Millisecond)
	}
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// StartTimes is how long the binary takes to answer its first request.
type StartTimes struct {
	Cold time.Duration // empty data directory: CA and signing keys generated (median)
	Warm time.Duration // the same directory again (median)
	RSS  int64         // resident set when first ready, warm
}

// MeasureStart starts bin n times with a fresh data directory and n times with an existing one.
func MeasureStart(ctx context.Context, bin string, n int) (*StartTimes, error) {
	var cold, warm []time.Duration
	st := &StartTimes{}
	for i := 0; i < n; i++ {
		dir, err := os.MkdirTemp("", "acr-bench-start-")
		if err != nil {
			return nil, err
		}
		for j, into := range []*[]time.Duration{&cold, &warm} {
			p, err := startProcess(ctx, bin, dir)
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			*into = append(*into, p.ready)
			if j == 1 {
				st.RSS = max(st.RSS, procStatus(p.cmd.Process.Pid, "VmRSS"))
			}
			p.stop()
		}
		os.RemoveAll(dir)
	}
	st.Cold, st.Warm = medianDuration(cold), medianDuration(warm)
	return st, nil
}

func medianDuration(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// Large is one image larger than a process should hold, pushed and pulled with the on-disk
// content store of the binary.
type Large struct {
	Size       int64
	Push, Pull float64 // bytes per second
	PeakRSS    int64   // the emulator process's high-water mark over the push and the pull
}

// MeasureLarge pushes one layer of size (streamed, as crane and docker do) to bin serving with
// --blob-dir over TLS with the admin user, pulls it back, and reads the process's peak RSS.
func MeasureLarge(ctx context.Context, bin string, size int64) (*Large, error) {
	dir, err := os.MkdirTemp("", "acr-bench-large-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := startProcess(ctx, bin, filepath.Join(dir, "data"), "--blob-dir", filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	pem, err := os.ReadFile(filepath.Join(p.dataDir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	t := load.Target{Registry: p.httpsAddr, Transport: load.NewTransport(&tls.Config{RootCAs: roots}, 2),
		Auth: &authn.Basic{Username: "myregistry", Password: "acr-emulator-admin-password"}}
	img := load.Image{Layers: 1, LayerSize: size}
	push, err := load.Run(ctx, t, load.Shape{Repo: "large", Image: img, Pushers: 1, Ops: 1})
	if err == nil {
		err = push.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	pull, err := load.Run(ctx, t, load.Shape{Repo: "large", Pullers: 1, Ops: 1, PullTag: push.Tags[0]})
	if err == nil {
		err = pull.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	return &Large{Size: size, Push: push.Throughput(push.Push), Pull: pull.Throughput(pull.Pull),
		PeakRSS: procStatus(p.cmd.Process.Pid, "VmHWM")}, nil
}
