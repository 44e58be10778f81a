package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// countingTransport counts requests and keeps their latencies.
type countingTransport struct {
	next      http.RoundTripper
	n         atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := c.next.RoundTrip(r)
	c.n.Add(1)
	c.mu.Lock()
	c.latencies = append(c.latencies, time.Since(start))
	c.mu.Unlock()
	return res, err
}

func (c *countingTransport) p99() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.latencies) == 0 {
		return 0
	}
	l := slices.Clone(c.latencies)
	slices.Sort(l)
	return l[len(l)*99/100]
}

// TestLoad: 1,000 concurrent pulls of one image and 100 concurrent, overlapping pushes (shared
// layers, the same tags), bounded in time, then the store's invariants (GET /_emulator/check)
// and every tag resolving. The figures are printed, not asserted: speed is for benchmarks.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	emu := harness.Start(t, harness.WithArgs("--log-level", "info"))
	pem, err := os.ReadFile(emu.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: false}
	auth := remote.WithAuth(&authn.Basic{Username: harness.AdminUser, Password: harness.AdminPassword})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	host := emu.RegistryHost()

	img, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := name.ParseReference(host + "/load/base:v1")
	if err := remote.Write(src, img, auth, remote.WithTransport(base), remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	run := func(what string, n int, work func(i int, tr http.RoundTripper) error) {
		t.Helper()
		tr := &countingTransport{next: base}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				if err := work(i, tr); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		took := time.Since(start)
		for err := range errs {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %d requests in %.1fs, %.0f requests/s, p99 %v", what, tr.n.Load(), took.Seconds(), float64(tr.n.Load())/took.Seconds(), tr.p99())
	}

	run("1000 concurrent pulls", 1000, func(i int, tr http.RoundTripper) error {
		got, err := remote.Image(src, auth, remote.WithTransport(tr), remote.WithContext(ctx))
		if err != nil {
			return err
		}
		if d, _ := got.Digest(); d != want {
			return fmt.Errorf("pulled %s, want %s", d, want)
		}
		return validateLayers(got)
	})

	// Overlapping pushes: each image is the base plus a layer shared by ten pushers, to one of
	// ten tags of one of five repositories.
	shared := make([]v1.Layer, 10)
	for i := range shared {
		if shared[i], err = random.Layer(32<<10, "application/vnd.docker.image.rootfs.diff.tar.gzip"); err != nil {
			t.Fatal(err)
		}
	}
	var pushed sync.Map // ref -> digest of some push that landed on it
	run("100 concurrent overlapping pushes", 100, func(i int, tr http.RoundTripper) error {
		im, err := mutate.AppendLayers(img, shared[i%10])
		if err != nil {
			return err
		}
		if i%4 == 0 { // some images share nothing with the base
			if im, err = mutate.AppendLayers(empty.Image, shared[i%10]); err != nil {
				return err
			}
		}
		ref, _ := name.ParseReference(fmt.Sprintf("%s/load/app%d:t%d", host, i%5, i%10))
		if err := remote.Write(ref, im, auth, remote.WithTransport(tr), remote.WithContext(ctx)); err != nil {
			return err
		}
		pushed.Store(ref.String(), true)
		return nil
	})

	// Every tag resolves to a complete image, and the store is consistent.
	pushed.Range(func(k, _ any) bool {
		ref, _ := name.ParseReference(k.(string))
		got, err := remote.Image(ref, auth, remote.WithTransport(base), remote.WithContext(ctx))
		if err == nil {
			err = validateLayers(got)
		}
		if err != nil {
			t.Errorf("%s: %v", ref, err)
		}
		return true
	})
	res, err := http.Get("http://" + emu.HTTPAddr + "/_emulator/check")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var check struct {
		Consistent bool
		Violations []map[string]any
	}
	if err := json.NewDecoder(res.Body).Decode(&check); err != nil || !check.Consistent || len(check.Violations) != 0 {
		t.Fatalf("/_emulator/check after the load: %v %+v", err, check)
	}
}

// validateLayers reads every layer through go-containerregistry's digest-verifying reader.
func validateLayers(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
