package httpx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// readResult is what the handler saw reading the body.
type readResult struct {
	n   int64
	err error
}

// rateServer serves MinBodyRate(window, minBytes) over a real connection; the handler reads
// 1 KiB, goes away for `away`, then reads the rest of the body and reports what it got.
func rateServer(t *testing.T, window time.Duration, minBytes int64, away time.Duration) (string, <-chan readResult) {
	t.Helper()
	got := make(chan readResult, 1)
	srv := httptest.NewServer(MinBodyRate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.CopyN(io.Discard, r.Body, 1024)
		if err == nil {
			time.Sleep(away)
			var m int64
			m, err = io.Copy(io.Discard, r.Body)
			n += m
		}
		got <- readResult{n, err}
		w.WriteHeader(http.StatusAccepted)
	}), window, minBytes))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), got
}

// send writes a PATCH with a body of total bytes in pieces of piece bytes, every, and reads
// the answer, if any.
func send(t *testing.T, addr string, total, piece int, every time.Duration, stop <-chan struct{}) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err) // on a goroutine of its own
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "PATCH /v2/app/blobs/uploads/x HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, total)
	buf := make([]byte, piece)
	for sent := 0; sent < total; sent += piece {
		if _, err := c.Write(buf[:min(piece, total-sent)]); err != nil {
			return // cut by the server
		}
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
	}
	_, _ = http.ReadResponse(bufio.NewReader(c), nil)
}

// A body trickling a byte at a time is cut after a window without minBytes; the handler's
// read fails with ErrSlowBody.
func TestMinBodyRateCutsTrickle(t *testing.T) {
	addr, got := rateServer(t, 300*time.Millisecond, 1024, 0)
	stop := make(chan struct{})
	defer close(stop)
	go send(t, addr, 1000, 1, 50*time.Millisecond, stop)
	select {
	case r := <-got:
		if !errors.Is(r.err, ErrSlowBody) {
			t.Fatalf("read %d bytes, err %v; want ErrSlowBody", r.n, r.err)
		}
		if r.n >= 1000 {
			t.Fatalf("the whole trickle was read (%d bytes)", r.n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the trickling body was never cut")
	}
}

// A body that keeps delivering minBytes per window is read whole however long it takes (here
// several windows), and so is one the handler comes back to after longer than a window.
func TestMinBodyRateKeepsLiveBodies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		away  time.Duration
		piece int
		every time.Duration
		total int
	}{
		// 4 KiB every 20 ms against 16 KiB a second: a 12× margin, over about 2 s.
		{"slow but live", 0, 4096, 20 * time.Millisecond, 400 << 10},
		{"handler away", 3 * time.Second, 64 << 10, time.Millisecond, 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := rateServer(t, time.Second, 16<<10, tc.away)
			stop := make(chan struct{})
			defer close(stop)
			go send(t, addr, tc.total, tc.piece, tc.every, stop)
			r := <-got
			if r.err != nil || r.n != int64(tc.total) {
				t.Fatalf("read %d of %d bytes, err %v", r.n, tc.total, r.err)
			}
		})
	}
}

// Off when the window is not positive: the handler is the same.
func TestMinBodyRateOff(t *testing.T) {
	h := http.NotFoundHandler()
	if got := MinBodyRate(h, 0, 1); fmt.Sprint(got) != fmt.Sprint(h) {
		t.Fatal("window 0 wrapped the handler")
	}
}
