// Command acr-emulator runs an in-memory emulator of a network-restricted Azure Container
// Registry. With no arguments it serves the embedded default world.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module
// version (or "dev") is reported.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `acr-emulator: an in-memory emulator of a network-restricted Azure Container Registry.

Usage:
  acr-emulator [serve] [flags]     serve the default world (or --config FILE)
  acr-emulator scenario list       list the scenarios
  acr-emulator scenario run NAME...|--all [--emulator URL] [--ca FILE]
                                   run scenarios against a running emulator
  acr-emulator exec [serve flags] -- CMD ARGS...
                                   start an emulator (free ports, a temporary data directory),
                                   run CMD with a client's environment, exit with CMD's status
  acr-emulator env [--url URL]     print that environment as export lines for a running emulator
  acr-emulator health [--url URL]  exit 0 only when the emulator answers its health check
  acr-emulator snapshot save DIR [--emulator URL]
                                   save a running emulator's whole state (start from it: --snapshot DIR)
  acr-emulator sample push [--registry HOST] [--repo NAME] [--platforms LIST]
                                   push a sample image and a multi-arch index to a running emulator
  acr-emulator version             print the version
  acr-emulator help                show this help

Serve flags (each also read from the environment variable shown):
`

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "acr-emulator", buildVersion())
		return 0
	case "help":
		fs, _ := serveFlags(stdout)
		fs.Usage()
		return 0
	case "scenario":
		return scenarioCmd(args, stdout, stderr)
	case "health":
		return healthCmd(args, stdout, stderr)
	case "exec":
		return execCmd(args, stdout, stderr)
	case "env":
		return envCmd(args, stdout, stderr)
	case "snapshot":
		return snapshotCmd(args, stdout, stderr)
	case "sample":
		return sampleCmd(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "acr-emulator: unknown command %q (try: acr-emulator help)\n", cmd)
	return 2
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type serveOptions struct {
	httpsAddr, httpAddr, proxyAddr, dataDir, config, logLevel, logFormat, snapshot string
	published, allowedHosts, originPorts, blobDir                                  string
	maxManifest, maxUpload, maxPending                                             int64
	accessTTL, refreshTTL, uploadTTL, bodyTimeout                                  time.Duration
}

// splitList reads a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envDuration reads a duration default from the environment; a malformed value is ignored here
// and reported by flag parsing when passed as a flag.
func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".acr-emulator")
	}
	return ".acr-emulator"
}

// serveDefaults are the serve flags' defaults where the environment sets none; exec has its own.
type serveDefaults struct{ httpsAddr, httpAddr, proxyAddr, dataDir, logLevel string }

func serveFlags(out io.Writer) (*flag.FlagSet, *serveOptions) {
	return serveFlagsWith(out, "acr-emulator serve", serveDefaults{"127.0.0.1:8443", "127.0.0.1:8080", "127.0.0.1:8081", defaultDataDir(), "info"})
}

func serveFlagsWith(out io.Writer, name string, d serveDefaults) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.httpsAddr, "https-addr", env("ACR_EMULATOR_HTTPS_ADDR", d.httpsAddr), "main HTTPS listener: registries, Entra ID, ARM, the control endpoints (ACR_EMULATOR_HTTPS_ADDR)")
	fs.StringVar(&o.httpAddr, "http-addr", env("ACR_EMULATOR_HTTP_ADDR", d.httpAddr), "plain HTTP listener, the same routes without TLS (the portal, the managed-identity endpoint...); \"-\" to disable (ACR_EMULATOR_HTTP_ADDR)")
	fs.StringVar(&o.proxyAddr, "proxy-addr", env("ACR_EMULATOR_PROXY_ADDR", d.proxyAddr), "proxy sending real Azure host names (login.microsoftonline.com, management.azure.com, <name>.azurecr.io) to the emulator, \"-\" to disable (ACR_EMULATOR_PROXY_ADDR)")
	fs.StringVar(&o.dataDir, "data-dir", env("ACR_EMULATOR_DATA_DIR", d.dataDir), "where the CA (ca.pem) and the token signing keys are kept (ACR_EMULATOR_DATA_DIR)")
	fs.StringVar(&o.config, "config", env("ACR_EMULATOR_CONFIG", ""), "world file (YAML or JSON) instead of the default world (ACR_EMULATOR_CONFIG)")
	fs.StringVar(&o.snapshot, "snapshot", env("ACR_EMULATOR_SNAPSHOT", ""), "start from a snapshot directory (acr-emulator snapshot save) instead of a world (ACR_EMULATOR_SNAPSHOT)")
	fs.StringVar(&o.logLevel, "log-level", env("ACR_EMULATOR_LOG_LEVEL", d.logLevel), "debug, info, warn or error (ACR_EMULATOR_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("ACR_EMULATOR_LOG_FORMAT", "text"), "text or json (ACR_EMULATOR_LOG_FORMAT)")
	fs.StringVar(&o.allowedHosts, "allowed-hosts", env("ACR_EMULATOR_ALLOWED_HOSTS", ""), "host names to serve besides the emulator's own (comma separated; *.suffix patterns; \"*\" for any), against DNS rebinding every other dotted name is refused (ACR_EMULATOR_ALLOWED_HOSTS)")
	fs.StringVar(&o.published, "published-ports", env("ACR_EMULATOR_PUBLISHED_PORTS", ""), "in a container: where the host publishes the listeners, as docker's -p ([IP:]HOSTPORT:CONTAINERPORT,...), so the banner prints addresses the host reaches (ACR_EMULATOR_PUBLISHED_PORTS)")
	fs.StringVar(&o.originPorts, "origin-ports", env("ACR_EMULATOR_ORIGIN_PORTS", ""), "fixed proxy ports for named origins of the world, NAME=PORT,... (in a container, so they can be published) (ACR_EMULATOR_ORIGIN_PORTS)")
	fs.Int64Var(&o.maxManifest, "max-manifest-bytes", 4<<20, "largest manifest accepted")
	fs.StringVar(&o.blobDir, "blob-dir", env("ACR_EMULATOR_BLOB_DIR", ""), "keep blobs as files in this directory instead of memory, for images larger than memory; emptied at start (default: the world's blobDir, else memory) (ACR_EMULATOR_BLOB_DIR)")
	fs.Int64Var(&o.maxUpload, "max-upload-bytes", 0, "largest blob upload accepted (0: 2 GiB in memory, 64 GiB with --blob-dir)")
	fs.Int64Var(&o.maxPending, "max-pending-upload-bytes", 0, "most bytes all unfinished uploads hold together; beyond it a chunk gets 429 TOOMANYREQUESTS (0: 2 GiB in memory, 64 GiB with --blob-dir; -1: no bound)")
	fs.DurationVar(&o.uploadTTL, "upload-ttl", envDuration("ACR_EMULATOR_UPLOAD_TTL", emulator.DefaultUploadTTL), "how long an upload session is kept after its last chunk (ACR_EMULATOR_UPLOAD_TTL)")
	fs.DurationVar(&o.bodyTimeout, "body-read-timeout", emulator.DefaultBodyReadTimeout, "a request body that delivers less than 16 KiB (and does not end) in this long is cut (-1s: never)")
	fs.DurationVar(&o.accessTTL, "access-token-ttl", envDuration("ACR_EMULATOR_ACCESS_TOKEN_TTL", 75*time.Minute), "lifetime of ACR access tokens (ACR_EMULATOR_ACCESS_TOKEN_TTL)")
	fs.DurationVar(&o.refreshTTL, "refresh-token-ttl", envDuration("ACR_EMULATOR_REFRESH_TOKEN_TTL", 3*time.Hour), "lifetime of ACR refresh tokens (ACR_EMULATOR_REFRESH_TOKEN_TTL)")
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	return fs, o
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs, o := serveFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "acr-emulator: unexpected arguments %q\n", fs.Args())
		return 2
	}
	pub, err := parsePublished(o.published, inContainer())
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 2
	}
	emu, logger, code := startEmulator(o, stderr)
	if emu == nil {
		return code
	}
	printQuickStart(stdout, emu, pub, o.config == "" && o.snapshot == "")
	logger.Info("ready", "https", pub.url(emu.HTTPSURL()), "http", pub.url(emu.HTTPURL()), "version", buildVersion())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := emu.Close(shutdown); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// startEmulator builds and starts an emulator from the serve flags; on failure it reports
// why and returns the exit code (2: bad input, 1: could not start).
func startEmulator(o *serveOptions, stderr io.Writer) (*emulator.Emulator, *slog.Logger, int) {
	logger, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return nil, nil, 2
	}
	snap, err := loadSnapshot(o)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return nil, nil, 2
	}
	w := world.Default()
	if o.config != "" {
		if w, err = world.Load(o.config); err != nil {
			fmt.Fprintln(stderr, "acr-emulator: world file:", err)
			return nil, nil, 2
		}
	}
	if snap != nil {
		w = snap.World
	}
	if err := checkBlobDir(o, w); err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return nil, nil, 2
	}
	if err := setOriginPorts(w, o.originPorts); err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return nil, nil, 2
	}
	emu, err := emulator.New(emulator.Config{
		HTTPSAddr: o.httpsAddr, HTTPAddr: o.httpAddr, ProxyAddr: o.proxyAddr, DataDir: o.dataDir, World: w, Snapshot: snap, Logger: logger,
		MaxManifestBytes: o.maxManifest, MaxUploadBytes: o.maxUpload, MaxPendingUploadBytes: o.maxPending, BlobDir: o.blobDir,
		UploadTTL: o.uploadTTL, BodyReadTimeout: o.bodyTimeout,
		AccessTokenTTL: o.accessTTL, RefreshTokenTTL: o.refreshTTL, AllowedHosts: splitList(o.allowedHosts),
	})
	if err == nil {
		err = emu.Start()
	}
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return nil, nil, 1
	}
	return emu, logger, 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
