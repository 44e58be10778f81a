package emulator_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator"
)

func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	e, err := emulator.New(emulator.Config{HTTPSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ProxyAddr: "-",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	return e
}

// A drain with nothing in flight is clean.
func TestCloseDrainsCleanly(t *testing.T) {
	e := startEmulator(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.HTTPURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // dialled ahead, never used: must not hold the drain up
	fmt.Fprintf(conn, "GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("health: %q %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("clean drain: %v", err)
	}
}

// Requests still in flight at the deadline are cut on every listener, and Close says so.
func TestCloseCutsRequestsAtTheDeadline(t *testing.T) {
	e := startEmulator(t)
	var stuck []net.Conn
	for _, base := range []string{e.HTTPURL(), e.HTTPSURL()} {
		u, _ := url.Parse(base)
		conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", u.Port()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A body that never arrives: the handler is in flight until the connection goes.
		fmt.Fprintf(conn, "POST /_emulator/reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nx")
		stuck = append(stuck, conn)
	}
	time.Sleep(100 * time.Millisecond) // let both requests reach their handlers
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "in flight at the deadline") {
		t.Fatalf("Close = %v, want the cut requests reported", err)
	}
	for _, conn := range stuck {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(conn); err != nil {
			t.Fatalf("the stuck connection was not closed: %v", err)
		}
	}
}
