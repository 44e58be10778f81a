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
	maxManifest, maxUpload                                                         int64
	accessTTL, refreshTTL                                                          time.Duration
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

func serveFlags(out io.Writer) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("acr-emulator serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.httpsAddr, "https-addr", env("ACR_EMULATOR_HTTPS_ADDR", "127.0.0.1:8443"), "main HTTPS listener: registries, Entra ID, ARM, the control endpoints (ACR_EMULATOR_HTTPS_ADDR)")
	fs.StringVar(&o.httpAddr, "http-addr", env("ACR_EMULATOR_HTTP_ADDR", "127.0.0.1:8080"), "plain HTTP listener, the same routes without TLS (the portal, the managed-identity endpoint...); \"-\" to disable (ACR_EMULATOR_HTTP_ADDR)")
	fs.StringVar(&o.proxyAddr, "proxy-addr", env("ACR_EMULATOR_PROXY_ADDR", "127.0.0.1:8081"), "proxy sending real Azure host names (login.microsoftonline.com, management.azure.com, <name>.azurecr.io) to the emulator, \"-\" to disable (ACR_EMULATOR_PROXY_ADDR)")
	fs.StringVar(&o.dataDir, "data-dir", env("ACR_EMULATOR_DATA_DIR", defaultDataDir()), "where the CA (ca.pem) and the token signing keys are kept (ACR_EMULATOR_DATA_DIR)")
	fs.StringVar(&o.config, "config", env("ACR_EMULATOR_CONFIG", ""), "world file (YAML or JSON) instead of the default world (ACR_EMULATOR_CONFIG)")
	fs.StringVar(&o.snapshot, "snapshot", env("ACR_EMULATOR_SNAPSHOT", ""), "start from a snapshot directory (acr-emulator snapshot save) instead of a world (ACR_EMULATOR_SNAPSHOT)")
	fs.StringVar(&o.logLevel, "log-level", env("ACR_EMULATOR_LOG_LEVEL", "info"), "debug, info, warn or error (ACR_EMULATOR_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("ACR_EMULATOR_LOG_FORMAT", "text"), "text or json (ACR_EMULATOR_LOG_FORMAT)")
	fs.Int64Var(&o.maxManifest, "max-manifest-bytes", 4<<20, "largest manifest accepted")
	fs.Int64Var(&o.maxUpload, "max-upload-bytes", 2<<30, "largest blob upload accepted (blobs are kept in memory)")
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
	logger, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 2
	}
	snap, err := loadSnapshot(o)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 2
	}
	w := world.Default()
	if o.config != "" {
		if w, err = world.Load(o.config); err != nil {
			fmt.Fprintln(stderr, "acr-emulator: world file:", err)
			return 2
		}
	}
	emu, err := emulator.New(emulator.Config{
		HTTPSAddr: o.httpsAddr, HTTPAddr: o.httpAddr, ProxyAddr: o.proxyAddr, DataDir: o.dataDir, World: w, Snapshot: snap, Logger: logger,
		MaxManifestBytes: o.maxManifest, MaxUploadBytes: o.maxUpload,
		AccessTokenTTL: o.accessTTL, RefreshTokenTTL: o.refreshTTL,
	})
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 1
	}
	if err := emu.Start(); err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 1
	}
	printQuickStart(stdout, emu)
	logger.Info("ready", "https", emu.HTTPSURL(), "http", emu.HTTPURL(), "version", buildVersion())

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

func printQuickStart(w io.Writer, emu *emulator.Emulator) {
	regs := emu.Registries()
	wd := emu.World()
	fmt.Fprintf(w, "acr-emulator %s is ready.\n\n", buildVersion())
	for _, r := range regs {
		fmt.Fprintf(w, "  registry  %-14s login server %s\n", r.Name, r.LoginServer)
	}
	fmt.Fprintf(w, "  CA        %s\n", emu.CA().Path())
	fmt.Fprintf(w, "  Entra ID  authority %s/  tenant %s\n", emu.HTTPSURL(), wd.TenantID)
	if u := emu.HTTPURL(); u != "" {
		fmt.Fprintf(w, "  control   %s/_emulator/health  %s/_emulator/state\n", u, u)
		fmt.Fprintf(w, "  portal    %s/_emulator/portal/  (Networking page per registry: public access, firewall, trusted services)\n", u)
	}
	if len(regs) == 0 {
		return
	}
	ls := regs[0].LoginServer
	fmt.Fprintf(w, "\nTry it (export SSL_CERT_FILE=%s first):\n", emu.CA().Path())
	if user, pass := emu.AdminCredentials(regs[0].Name); user != "" {
		fmt.Fprintf(w, "  crane auth login %s -u %s -p %s\n", ls, user, pass)
		fmt.Fprintf(w, "  docker login %s -u %s -p %s\n", ls, user, pass)
	}
	fmt.Fprintf(w, "  acr-emulator sample push --registry %s   (pushes %s/hello:v1 and a multi-arch index)\n", ls, ls)
	fmt.Fprintf(w, "  crane ls %s/hello\n", ls)
	for _, sp := range wd.ServicePrincipals {
		fmt.Fprintf(w, "\nService principal %s: AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s\n",
			sp.Name, wd.TenantID, sp.ClientID, sp.Secret)
		fmt.Fprintf(w, "  (azidentity: authority host %s/, DisableInstanceDiscovery: true; or docker login -u %s -p %s)\n",
			emu.HTTPSURL(), sp.ClientID, sp.Secret)
		break
	}
	if p := emu.ProxyURL(); p != "" {
		fmt.Fprintf(w, "\nReal Azure names (login.microsoftonline.com, management.azure.com, <registry>.azurecr.io) via HTTPS_PROXY=%s\n", p)
	}
	if origins := emu.Origins(); len(origins) > 0 {
		fmt.Fprintf(w, "\nNamed origins (Go clients never proxy localhost: use <registry>.azurecr.io through them):\n")
		for _, o := range origins {
			fmt.Fprintf(w, "  %-12s HTTPS_PROXY=%s\n", o.Name, o.ProxyURL)
		}
	}
	if u := emu.HTTPURL(); u != "" {
		for _, c := range wd.ComputeResources {
			fmt.Fprintf(w, "\nManaged identity of %q (azidentity.NewManagedIdentityCredential):\n", c.Name)
			fmt.Fprintf(w, "  export IDENTITY_ENDPOINT=%s/msi/token IDENTITY_HEADER=%s\n", u, c.IdentityHeader)
		}
	}
	fmt.Fprintln(w)
}
