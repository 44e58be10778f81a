package bench

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"time"
)

// Limits are the machine's own ceilings in bytes per second, measured in the same run: no
// registry verifies a push faster than one core hashes, nor serves one stream faster than
// loopback carries it.
type Limits struct {
	SHA256   float64 // sha256 of a 256 MiB buffer on one core
	Loopback float64 // one loopback TCP stream, 1 MiB writes, the reader discarding
}

const limitBytes = 256 << 20

// MeasureLimits takes the best of rounds of each (the best is the least disturbed by the
// machine's other work, which is what a ceiling means).
func MeasureLimits(rounds int) (Limits, error) {
	buf := make([]byte, limitBytes)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(buf)
	var l Limits
	var hs, ls []float64
	for i := 0; i < max(rounds, 1); i++ {
		t0 := time.Now()
		sha256.Sum256(buf)
		hs = append(hs, limitBytes/time.Since(t0).Seconds())
		bps, err := loopback(buf)
		if err != nil {
			return l, err
		}
		ls = append(ls, bps)
	}
	sort.Float64s(hs)
	sort.Float64s(ls)
	l.SHA256, l.Loopback = hs[len(hs)-1], ls[len(ls)-1]
	return l, nil
}

func loopback(buf []byte) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, c, make([]byte, 1<<20))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	for off := 0; off < len(buf); off += 1 << 20 {
		if _, err := c.Write(buf[off : off+1<<20]); err != nil {
			c.Close()
			return 0, err
		}
	}
	_ = c.Close()
	if err := <-done; err != nil {
		return 0, err
	}
	return float64(len(buf)) / time.Since(t0).Seconds(), nil
}
