package archive

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		n, max int
		ok     bool
	}{{10, 10, true}, {9, 10, true}, {11, 10, false}, {0, 0, true}, {1 << 20, 1 << 10, false}} {
		b, err := io.ReadAll(Limit(bytes.NewReader(make([]byte, tc.n)), int64(tc.max), "the source"))
		if (err == nil) != tc.ok || (tc.ok && len(b) != tc.n) {
			t.Errorf("%d bytes, bound %d: %d read, %v", tc.n, tc.max, len(b), err)
		}
		if err != nil && !strings.Contains(err.Error(), "the source decompresses to more than") {
			t.Errorf("error %q does not say what", err)
		}
	}
}
