package images

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"
)

// storedGzip's output is gzip any reader accepts, at every block boundary.
func TestStoredGzipRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 65534, 65535, 65536, 2 * 65535, 200000} {
		data := make([]byte, n)
		_, _ = rand.NewChaCha8([32]byte{byte(n)}).Read(data)
		var buf bytes.Buffer
		if err := storedGzip(&buf, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(&buf)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
	}
}
