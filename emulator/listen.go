package emulator

// Listeners: binding, TLS, origins' proxies, serving and shutdown of connections.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/dataendpoint"
	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/sniff"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Start binds the listeners, seeds the world and serves until Close.
func (e *Emulator) Start() error {
	mainLn, err := net.Listen("tcp", e.cfg.HTTPSAddr)
	if err != nil {
		return fmt.Errorf("https listener: %w", err)
	}
	listeners := []net.Listener{mainLn}
	closeAll := func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}
	host, _, _ := net.SplitHostPort(e.cfg.HTTPSAddr)
	mainPort := mainLn.Addr().(*net.TCPAddr).Port
	e.httpsURL = "https://" + net.JoinHostPort(urlHost(host), strconv.Itoa(mainPort))

	ownListeners := map[*servedRegistry]net.Listener{}
	snap := e.cfg.Snapshot
	var saved map[string]*store.Registry // a snapshot's registries, by name
	if snap != nil {
		saved = map[string]*store.Registry{}
		for _, r := range snap.State.Registries {
			saved[r.Name] = r
		}
	}
	for _, wr := range e.world.Registries {
		if saved != nil && saved[wr.Name] == nil {
			continue // deleted before the snapshot was taken
		}
		sr := &servedRegistry{port: wr.Port}
		port := mainPort
		if wr.Port != 0 {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(wr.Port)))
			if err != nil {
				closeAll()
				return fmt.Errorf("registry %s listener: %w", wr.Name, err)
			}
			listeners = append(listeners, ln)
			ownListeners[sr] = ln
			port = ln.Addr().(*net.TCPAddr).Port
		}
		sr.info = e.worldRegistryInfo(wr.Name, port)
		rec := e.registryRecord(wr, sr.info.LoginServer)
		if saved != nil {
			// The snapshot's record, reached where this start listens.
			rec = saved[wr.Name].Copy()
			rec.LoginServer = sr.info.LoginServer
			saved[wr.Name] = rec
		} else if err := e.st.PutRegistry(rec); err != nil {
			closeAll()
			return err
		}
		e.serveRegistry(sr, rec)
	}
	if err := e.seedContent(saved); err != nil {
		closeAll()
		return err
	}
	if err := e.addressEndpoints(); err != nil {
		closeAll()
		return err
	}
	// What a reset returns to, taken before anyone can change it.
	if err := e.capture(); err != nil {
		closeAll()
		return err
	}

	cert, err := e.ca.Issue(e.certHosts()...)
	if err != nil {
		closeAll()
		return fmt.Errorf("issue certificate: %w", err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	e.serve(mainLn, e.dispatch(nil), tlsCfg)
	for sr, ln := range ownListeners {
		e.serve(ln, e.dispatch(sr), tlsCfg)
	}
	if e.cfg.HTTPAddr != "-" {
		ln, err := net.Listen("tcp", e.cfg.HTTPAddr)
		if err != nil {
			_ = e.Close(context.Background())
			return fmt.Errorf("http listener: %w", err)
		}
		h, p, _ := net.SplitHostPort(ln.Addr().String())
		e.httpURL = "http://" + net.JoinHostPort(h, p)
		e.serve(ln, e.dispatch(nil), nil)
	}
	if err := e.startOrigins(tlsCfg); err != nil {
		_ = e.Close(context.Background())
		return err
	}
	e.wg.Add(1)
	go e.purgeUploads()
	return nil
}

// startOrigins opens a proxy listener per named origin of the world; their tunnels end in one
// internal listener served like the main one.
func (e *Emulator) startOrigins(tlsCfg *tls.Config) error {
	if len(e.world.Origins) == 0 && e.cfg.ProxyAddr == "-" {
		return nil
	}
	host, _, _ := net.SplitHostPort(e.cfg.HTTPSAddr)
	e.proxied = network.NewConnListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	e.serve(e.proxied, e.dispatch(nil), tlsCfg)
	if e.cfg.ProxyAddr != "-" {
		ln, err := net.Listen("tcp", e.cfg.ProxyAddr)
		if err != nil {
			return fmt.Errorf("proxy listener: %w", err)
		}
		local := network.Origin{Kind: network.Internet, Name: "local-proxy", IP: netip.MustParseAddr("127.0.0.1")}
		if e.world.LocalClientIP != "" {
			local.IP, _ = netip.ParseAddr(e.world.LocalClientIP)
		}
		e.serve(ln, network.Proxy(local, e.proxied, e.dispatch(nil)), nil)
		h, p, _ := net.SplitHostPort(ln.Addr().String())
		e.proxyURL = "http://" + net.JoinHostPort(urlHost(h), p)
	}
	for _, wo := range e.world.Origins {
		o := network.Origin{Kind: network.Internet, Name: wo.Name}
		if wo.IP != "" {
			o.IP, _ = netip.ParseAddr(wo.IP)
		}
		if wo.VNet || len(wo.PrivateEndpoints) > 0 || len(wo.Endpoints) > 0 {
			o.Kind, o.VNet, o.PrivateIP = network.PrivateEndpoint, wo.Name, arm.VNetMachineIP
			if wo.PrivateIP != "" {
				o.PrivateIP, _ = netip.ParseAddr(wo.PrivateIP)
			}
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(wo.Port)))
		if err != nil {
			return fmt.Errorf("origin %s proxy: %w", wo.Name, err)
		}
		e.serve(ln, network.Proxy(o, e.proxied, e.dispatch(nil)), nil)
		e.origins = append(e.origins, OriginInfo{Name: wo.Name, ProxyURL: "http://" + net.JoinHostPort(urlHost(host), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))})
	}
	return nil
}

// urlHost names the listener the way users reach it: localhost for loopback and wildcard binds
// (the certificate covers it, and the default world's authority is https://localhost:8443/).
func urlHost(h string) string {
	switch h {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1":
		return "localhost"
	}
	return h
}

// certHosts are the names the HTTPS certificate covers.
func (e *Emulator) certHosts() []string {
	// Real Azure names too, for clients reaching the emulator through its proxies: the storage
	// accounts' among them (<account>.blob.core.windows.net).
	hosts := []string{"localhost", "127.0.0.1", "::1", "*.azurecr.io", "login.microsoftonline.com", "management.azure.com", "management.core.windows.net",
		"*" + storage.BlobSuffix}
	if h, _, _ := net.SplitHostPort(e.cfg.HTTPSAddr); h != "" && h != "0.0.0.0" && h != "::" && h != "localhost" && h != "127.0.0.1" {
		hosts = append(hosts, h)
	}
	for _, r := range e.world.Registries {
		hosts = append(hosts, r.Name+".azurecr.io")
	}
	// Data endpoints, <name>.<region>.data.azurecr.io, in every region a registry may be
	// replicated to (registries come and go through ARM).
	for _, loc := range arm.LocationNames(e.world.Location) {
		hosts = append(hosts, "*."+loc+dataendpoint.Suffix)
	}
	if s := e.world.LoginServerSuffix; s != "" && s != ".azurecr.io" {
		hosts = append(hosts, "*"+s)
		for _, r := range e.world.Registries {
			hosts = append(hosts, r.Name+s)
		}
	}
	return hosts
}

func (e *Emulator) serve(ln net.Listener, h http.Handler, tlsCfg *tls.Config) {
	tracker := &connTracker{conns: map[net.Conn]http.ConnState{}}
	srv := &http.Server{
		Handler:           httpx.MinBodyRate(h, e.cfg.BodyReadTimeout, MinBodyBytes),
		ConnState:         tracker.set,
		ConnContext:       network.ConnContext(e.world.LocalClientIP),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	if tlsCfg != nil {
		ln = sniff.New(ln, tlsCfg)
	}
	e.servers = append(e.servers, server{srv, tracker, ln.Addr().String()})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// purgeUploads bounds what abandoned upload sessions hold: each goes within a quarter of
// UploadTTL (a minute at most) of its TTL.
func (e *Emulator) purgeUploads() {
	defer e.wg.Done()
	t := time.NewTicker(min(max(e.cfg.UploadTTL/4, 10*time.Millisecond), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			if n, err := e.st.PurgeUploads(now.Add(-e.cfg.UploadTTL)); err == nil && n > 0 {
				e.log.Info("dropped idle upload sessions", "count", n)
			}
		}
	}
}

type server struct {
	*http.Server
	tracker *connTracker
	addr    string
}

// connTracker follows connection states so shutdown can drop never-used connections at once.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

func (t *connTracker) set(c net.Conn, st http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(t.conns, c)
		return
	}
	t.conns[c] = st
}

func (t *connTracker) closeNew() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, st := range t.conns {
		if st == http.StateNew {
			_ = c.Close()
		}
	}
}
