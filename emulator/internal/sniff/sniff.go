// Package sniff lets one port speak both TLS and plain HTTP, telling them apart by the first
// byte a client sends (0x16 opens every TLS handshake).
//
// Clients disagree on localhost registries: crane and the Azure SDK use HTTPS, oras defaults to
// plain HTTP for localhost, docker tries HTTPS then falls back to HTTP. Serving both on the
// registry's port makes every one of them work without flags.
package sniff

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// handshakeTimeout bounds how long a connection may stay silent before it is dropped.
const handshakeTimeout = 10 * time.Second

// Listener accepts connections from an inner listener and hands out *tls.Conn for TLS clients
// and plain connections for the rest. Sniffing happens off the Accept path, so a silent client
// cannot stall other connections.
type Listener struct {
	inner  net.Listener
	tls    *tls.Config
	conns  chan net.Conn
	errs   chan error
	done   chan struct{}
	closer sync.Once
}

// New wraps inner; cfg serves the TLS connections.
func New(inner net.Listener, cfg *tls.Config) *Listener {
	l := &Listener{inner: inner, tls: cfg, conns: make(chan net.Conn), errs: make(chan error, 1), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case l.errs <- err:
			case <-l.done:
			}
			return
		}
		go l.classify(c)
	}
}

func (l *Listener) classify(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var out net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == 0x16 {
		out = tls.Server(out, l.tls)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next classified connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *Listener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return l.inner.Close()
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// peekedConn replays the sniffed bytes before reading on from the connection.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// ReadFrom writes r to the connection with the inner connection's ReadFrom (sendfile(2) from a
// file on a TCP connection), which net/http looks for on the connection it serves; writes do
// not go through the peeked bytes' reader.
func (p *peekedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := p.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{p.Conn}, r)
}

// NetConn exposes the wrapped connection (as tls.Conn does), so the emulator can find what a
// proxied connection carries.
func (p *peekedConn) NetConn() net.Conn { return p.Conn }
