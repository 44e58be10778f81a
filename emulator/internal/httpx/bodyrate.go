package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// ErrSlowBody is what reading a request body returns once the body fell under MinBodyRate's
// rate; the connection is then done with.
var ErrSlowBody = errors.New("request body too slow")

// MinBodyRate cuts request bodies that trickle: each must deliver minBytes (or end) within
// every window, or its next read fails with ErrSlowBody. It works with per-read deadlines on
// the connection (http.ResponseController), moved forward each time another minBytes arrive,
// so a large body that keeps flowing is never cut however long it takes, and a handler that
// stops reading for a while (hashing, writing to disk) is given a whole window again at its
// next read. window <= 0 turns it off.
func MinBodyRate(next http.Handler, window time.Duration, minBytes int64) http.Handler {
	if window <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &rateBody{ReadCloser: r.Body, rc: http.NewResponseController(w), window: window, min: minBytes}
		r.Body = b
		defer b.disarm()
		next.ServeHTTP(w, r)
	})
}

type rateBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	window time.Duration
	min    int64
	got    int64 // bytes since the deadline last moved
	armed  bool
	done   bool      // the body ended or failed: the deadline is off
	ret    time.Time // when the last read returned
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	now := time.Now()
	if !b.armed || now.Sub(b.ret) > b.window/2 {
		// First read, or the handler was away a while: a fresh window from now, as the bytes
		// may be waiting in the socket for the handler rather than the other way round.
		b.arm(now)
	}
	n, err := b.ReadCloser.Read(p)
	b.ret = time.Now()
	b.got += int64(n)
	if b.got >= b.min {
		b.arm(b.ret)
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The deadline stays passed: net/http's drain of the rest of the body after the
			// handler fails at once and the connection closes, instead of waiting for the
			// trickle to end.
			b.done = true
			return n, fmt.Errorf("%w: it delivered less than %d bytes in %v", ErrSlowBody, b.min, b.window)
		}
		b.disarm()
	}
	return n, err
}

func (b *rateBody) arm(now time.Time) {
	b.got, b.armed = 0, true
	// A writer without deadlines (a test's recorder) leaves the body unbounded.
	_ = b.rc.SetReadDeadline(now.Add(b.window))
}

// disarm takes the deadline off: the connection's next request, or the server's check that
// the client is still there, must not inherit it.
func (b *rateBody) disarm() {
	if b.armed && !b.done {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	b.done = true
}
