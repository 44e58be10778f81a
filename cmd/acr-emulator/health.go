package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// healthCmd serves `health [--url URL]`: exit 0 only when the emulator answers its health
// endpoint with 200 and {"status":"ok"}. It is the container image's healthcheck, so without
// --url it asks the listener this process's environment configures (ACR_EMULATOR_HTTP_ADDR,
// else the HTTPS one), on this machine.
func healthCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("acr-emulator health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", env("ACR_EMULATOR_URL", localURL()), "the emulator's base URL, http or https (ACR_EMULATOR_URL)")
	caFile := fs.String("ca", env("ACR_EMULATOR_CA", ""), "CA to verify an https URL with (default: ca.pem in the data directory)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code, ok := parseOnlyFlags(fs, args, stderr); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client, err := controlClient(*url, *caFile)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator health:", err)
		return 1
	}
	if err := checkHealth(ctx, client, *url); err != nil {
		fmt.Fprintln(stderr, "acr-emulator health:", err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// parseOnlyFlags parses a subcommand that takes flags and no arguments; when it returns false
// the command ends with code (0 for --help).
func parseOnlyFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return 2, false
	}
	return 0, true
}

func checkHealth(ctx context.Context, client *http.Client, base string) error {
	u := strings.TrimSuffix(base, "/") + "/_emulator/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.Status != "ok" {
		return fmt.Errorf("GET %s: %s, status %q", u, res.Status, body.Status)
	}
	return nil
}

// localURL is the emulator of this machine as the serve flags' environment configures it: the
// plain HTTP listener unless it is disabled, a wildcard bind asked on the loopback address.
func localURL() string {
	if addr := env("ACR_EMULATOR_HTTP_ADDR", "127.0.0.1:8080"); addr != "-" {
		return "http://" + dialAddr(addr)
	}
	return "https://" + dialAddr(env("ACR_EMULATOR_HTTPS_ADDR", "127.0.0.1:8443"))
}

// dialAddr turns a bind address into one to connect to.
func dialAddr(bind string) string {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return bind
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// controlClient is an HTTP client for the emulator's control endpoints. An https URL is
// verified against caFile, or the data directory's ca.pem when it exists. Proxies from the
// environment are not used: the emulator is asked directly.
func controlClient(base, caFile string) (*http.Client, error) {
	tr := &http.Transport{Proxy: nil}
	if strings.HasPrefix(base, "https://") {
		if caFile == "" {
			caFile = filepath.Join(env("ACR_EMULATOR_DATA_DIR", defaultDataDir()), "ca.pem")
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("the emulator's CA for %s: %w (pass --ca)", base, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}
