package main

import (
	"bytes"
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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// envCmd serves `env [--url URL] [--ca FILE]`: the environment exec gives its command, as shell
// export lines, for an emulator already running (make run, docker compose up). What the
// emulator knows (its listeners, world and secrets) comes from its /_emulator/state; its CA
// from --ca, or fetched from it (trust on first use) and kept in a file.
func envCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("acr-emulator env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", env("ACR_EMULATOR_URL", localURL()), "the running emulator, its http or https listener (ACR_EMULATOR_URL)")
	caFile := fs.String("ca", env("ACR_EMULATOR_CA", ""), "the emulator's ca.pem (ACR_EMULATOR_CA); default: fetched from the emulator")
	if code, ok := parseOnlyFlags(fs, args, stderr); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := remoteView(ctx, strings.TrimSuffix(*base, "/"), *caFile)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator env:", err)
		return 1
	}
	fmt.Fprintf(stdout, "# acr-emulator at %s; use: eval \"$(acr-emulator env --url %s)\"\n", *base, *base)
	fmt.Fprint(stdout, exports(v.vars()))
	return 0
}

// emulatorState is the part of /_emulator/state a client's environment comes from.
type emulatorState struct {
	World struct {
		TenantID          string `json:"tenantId"`
		ServicePrincipals []struct {
			ClientID string `json:"clientId"`
			Secret   string `json:"secret"`
		} `json:"servicePrincipals"`
		ComputeResources []struct {
			IdentityHeader string `json:"identityHeader"`
		} `json:"computeResources"`
	} `json:"world"`
	Endpoints struct {
		HTTPS  string `json:"https"`
		HTTP   string `json:"http"`
		Proxy  string `json:"proxy"`
		CAFile string `json:"caFile"`
	} `json:"endpoints"`
	Registries []struct {
		LoginServer string `json:"loginServer"`
	} `json:"registries"`
}

// remoteView reads a running emulator's state. The listeners are named as the caller reached
// the emulator: the URL it was given stands for its own listener, and a localhost in the
// others becomes that URL's host (a compose service or network alias).
func remoteView(ctx context.Context, base, caFile string) (clientView, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return clientView{}, fmt.Errorf("--url %q: want the emulator's http:// or https:// URL", base)
	}
	var pem []byte
	if caFile != "" {
		if pem, err = os.ReadFile(caFile); err != nil {
			return clientView{}, err
		}
	} else if pem, err = fetchCA(ctx, base); err != nil {
		return clientView{}, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return clientView{}, errors.New("the emulator's CA holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_emulator/state", nil)
	if err != nil {
		return clientView{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return clientView{}, err
	}
	defer res.Body.Close()
	var st emulatorState
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&st); err != nil || res.StatusCode != http.StatusOK {
		return clientView{}, fmt.Errorf("GET %s: %s %v", req.URL, res.Status, err)
	}

	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost"
	}
	v := clientView{
		HTTPS: withHost(st.Endpoints.HTTPS, host), HTTP: withHost(st.Endpoints.HTTP, host), Proxy: withHost(st.Endpoints.Proxy, host),
		TenantID: st.World.TenantID,
	}
	if u.Scheme == "https" {
		v.HTTPS = u.Scheme + "://" + net.JoinHostPort(host, u.Port())
	} else {
		v.HTTP = u.Scheme + "://" + net.JoinHostPort(host, u.Port())
	}
	if len(st.World.ServicePrincipals) > 0 {
		v.ClientID, v.Secret = st.World.ServicePrincipals[0].ClientID, st.World.ServicePrincipals[0].Secret
	}
	if len(st.World.ComputeResources) > 0 {
		v.IdentityHeader = st.World.ComputeResources[0].IdentityHeader
	}
	if len(st.Registries) > 0 {
		v.LoginServer = st.Registries[0].LoginServer
		if h, p, err := net.SplitHostPort(v.LoginServer); err == nil && h == "localhost" {
			v.LoginServer = net.JoinHostPort(host, p)
		}
	}
	switch {
	case caFile != "":
		v.CAFile = caFile
	case sameFile(st.Endpoints.CAFile, pem):
		v.CAFile = st.Endpoints.CAFile // the emulator runs on this machine
	default:
		if v.CAFile, err = keepCA(u.Host, pem); err != nil {
			return clientView{}, err
		}
	}
	return v, nil
}

func sameFile(path string, pem []byte) bool {
	b, err := os.ReadFile(path)
	return path != "" && err == nil && bytes.Equal(b, pem)
}

// keepCA writes a fetched CA where it outlives this command: the user's cache directory, one
// file per emulator address.
func keepCA(hostPort string, pem []byte) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "acr-emulator")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := strings.NewReplacer(":", "_", "[", "", "]", "").Replace(hostPort) + "-ca.pem"
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, pem, 0o644)
}
