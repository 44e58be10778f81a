// Package bench measures acr-emulator side by side with go-containerregistry's pkg/registry and
// distribution's registry (the reference implementation, filesystem storage driver in a temporary directory) under one
// client, e2e/bench/load: `make bench` runs ./e2e/bench/cmd/benchtable, which prints the table
// of figures and ratios the README carries. The Go benchmarks beside it (bench_test.go) run the
// same cases one at a time, for profiling: go test ./e2e/bench -run '^$' -bench PullTLS -cpuprofile cpu.out
//
// distribution is a test-only dependency: only this package imports it, never the binary.
package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/bench/load"
	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/distribution/distribution/v3/configuration"
	distribution "github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // the driver the config names
	"github.com/google/go-containerregistry/pkg/authn"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/sirupsen/logrus"
)

// Kind names a registry under test.
type Kind string

const (
	EmulatorTLS  Kind = "acr-emulator TLS"
	EmulatorHTTP Kind = "acr-emulator HTTP"
	GGCR         Kind = "ggcr HTTP"
	Distribution Kind = "distribution HTTP"
)

// Kinds are every registry, in the table's order.
var Kinds = []Kind{EmulatorTLS, EmulatorHTTP, GGCR, Distribution}

// Registry is one running registry under test.
type Registry struct {
	Kind   Kind
	Target load.Target
	// Emulator is set for the emulator's kinds (memory and token figures need it).
	Emulator *emulator.Emulator
	close    func() error
}

// Close stops the registry and lets its memory go.
func (r *Registry) Close() error { return r.close() }

// Options tune the registries started.
type Options struct {
	// Conns is how many connections clients keep per registry.
	Conns int
}

// Start runs a registry of kind k in this process on a free loopback port.
func Start(k Kind, o Options) (*Registry, error) {
	switch k {
	case EmulatorTLS, EmulatorHTTP:
		return startEmulator(k, o)
	case GGCR:
		return serveHTTP(k, ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))), o, nil)
	case Distribution:
		return startDistribution(o)
	}
	return nil, fmt.Errorf("unknown registry %q", k)
}

func startEmulator(k Kind, o Options) (*Registry, error) {
	cfg := emulator.Config{HTTPSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ProxyAddr: "-",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	emu, err := emulator.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := emu.Start(); err != nil {
		return nil, err
	}
	user, pass := emu.AdminCredentials(emu.Registries()[0].Name)
	t := load.Target{Auth: &authn.Basic{Username: user, Password: pass}}
	if k == EmulatorHTTP {
		t.Registry, t.Insecure = emu.HTTPURL()[len("http://"):], true
		t.Transport = load.NewTransport(nil, o.Conns)
	} else {
		t.Registry = emu.HTTPSURL()[len("https://"):]
		t.Transport = load.NewTransport(&tls.Config{RootCAs: emu.CA().Pool()}, o.Conns)
	}
	return &Registry{Kind: k, Target: t, Emulator: emu, close: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return emu.Close(ctx)
	}}, nil
}

// startDistribution runs distribution's registry app on its filesystem driver in a temporary
// directory, no upload purging, deletes enabled, logging off. Not its inmemory driver: that
// driver's writer grows its buffer to the exact size at every write (v3.1.2), so a 256 MiB
// upload copies about a terabyte and never finishes in a bench run.
func startDistribution(o Options) (*Registry, error) {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.PanicLevel)
	dir, err := os.MkdirTemp("", "bench-distribution-")
	if err != nil {
		return nil, err
	}
	cfg := &configuration.Configuration{Storage: configuration.Storage{
		"filesystem":  configuration.Parameters{"rootdirectory": dir},
		"delete":      configuration.Parameters{"enabled": true},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}}
	cfg.Log.AccessLog.Disabled = true
	cfg.Log.Level = "panic"
	ctx, cancel := context.WithCancel(context.Background())
	app := distribution.NewApp(ctx, cfg)
	return serveHTTP(Distribution, app, o, func() error { cancel(); return os.RemoveAll(dir) })
}

// serveHTTP serves a peer registry over plain HTTP with net/http's defaults, as its own
// binaries do.
func serveHTTP(k Kind, h http.Handler, o Options, after func() error) (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t := load.Target{Registry: ln.Addr().String(), Insecure: true, Transport: load.NewTransport(nil, o.Conns)}
	return &Registry{Kind: k, Target: t, close: func() error {
		err := srv.Close()
		if after != nil {
			err = errors.Join(err, after())
		}
		return err
	}}, nil
}
