package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// fetchCA asks a running emulator for its CA (GET /_emulator/ca.pem), for clients that cannot
// read its data directory. This is trust on first use, and says so: nothing proves that the
// server at base is the emulator the user means. Over https the connection is made without
// verification, then the certificate that server presented must chain to the CA it served,
// so a TLS-intercepting proxy or a server with another CA fails here rather than later; from
// then on the caller pins the CA. Over http nothing at all can be checked.
func fetchCA(ctx context.Context, base string) ([]byte, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q: want the emulator's https:// or http:// URL", base)
	}
	var peer []*x509.Certificate
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // verified below, against the CA the server itself serves
		VerifyConnection: func(cs tls.ConnectionState) error {
			peer = cs.PeerCertificates
			return nil
		},
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+"/_emulator/ca.pem", nil)
	if err != nil {
		return nil, err
	}
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the CA: %w", err)
	}
	defer res.Body.Close()
	pem, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("fetching the CA: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s (is this an acr-emulator?)", req.URL, res.Status)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("GET %s: no PEM certificate in the answer", req.URL)
	}
	if u.Scheme == "https" {
		if len(peer) == 0 {
			return nil, errors.New("fetching the CA: no server certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range peer[1:] {
			inter.AddCert(c)
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil {
			host = ip.String()
		}
		if _, err := peer[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: host}); err != nil {
			return nil, fmt.Errorf("the certificate of %s is not issued by the CA it serves: %w", u.Host, err)
		}
	}
	return pem, nil
}

// writeTemp keeps a fetched CA in a file for the clients that want a path.
func writeTemp(pem []byte) (path string, remove func(), err error) {
	_ = os.MkdirAll(os.TempDir(), 0o1777) // a scratch container has no /tmp
	f, err := os.CreateTemp("", "acr-emulator-ca-*.pem")
	if err != nil {
		return "", nil, err
	}
	if _, err := f.Write(pem); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}
