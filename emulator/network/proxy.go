package network

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// OriginConn is a connection whose origin the emulator decided (a named origin's proxy).
type OriginConn struct {
	net.Conn
	Origin Origin
}

// OriginOfConn finds the origin a proxied connection carries, looking through wrappers
// (TLS, protocol sniffing) that expose NetConn.
func OriginOfConn(c net.Conn) (Origin, bool) {
	for c != nil {
		if oc, ok := c.(*OriginConn); ok {
			return oc.Origin, true
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return Origin{}, false
		}
		c = u.NetConn()
	}
	return Origin{}, false
}

// ConnListener is a net.Listener fed with connections by proxies.
type ConnListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

// NewConnListener returns an empty listener reporting addr.
func NewConnListener(addr net.Addr) *ConnListener {
	return &ConnListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

// Push hands a connection to whoever Accepts; false once the listener is closed.
func (l *ConnListener) Push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept returns the next pushed connection.
func (l *ConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *ConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the reported address.
func (l *ConnListener) Addr() net.Addr { return l.addr }

// Proxy is a named origin's entrance: an HTTP proxy whose CONNECT tunnels end inside the
// emulator (pushed to target with the origin attached), whatever host they name, so clients
// reach real-looking login servers (<name>.azurecr.io:443) through HTTPS_PROXY. Plain proxied
// requests (HTTP_PROXY) are served directly by plain.
func Proxy(o Origin, target *ConnListener, plain http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			plain.ServeHTTP(w, r.WithContext(WithOrigin(r.Context(), o)))
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "proxy cannot tunnel", http.StatusInternalServerError)
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			return
		}
		if _, err := rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n"); err != nil || rw.Flush() != nil {
			conn.Close()
			return
		}
		var c net.Conn = conn
		if rw.Reader.Buffered() > 0 {
			c = &bufferedConn{Conn: conn, r: rw.Reader}
		}
		if !target.Push(&OriginConn{Conn: c, Origin: o}) {
			conn.Close()
		}
	})
}

// bufferedConn keeps bytes the client sent right after CONNECT.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// ConnContext attaches to each connection's requests its origin: the proxy's for tunnelled
// connections, else an internet origin with the TCP peer address (or localIP, when set, for
// loopback peers). Headers such as X-Forwarded-For are never consulted.
func ConnContext(localIP string) func(ctx context.Context, c net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		if o, ok := OriginOfConn(c); ok {
			return WithOrigin(ctx, o)
		}
		return WithOrigin(ctx, Origin{Kind: Internet, IP: peerIP(c, localIP)})
	}
}

func peerIP(c net.Conn, localIP string) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() && localIP != "" {
		if l, err := netip.ParseAddr(localIP); err == nil {
			return l
		}
	}
	return ip
}
