// Package archive bounds the work of reading archives a user sent: a small gzip can expand a
// thousandfold, and a tar reader decompresses the entries it skips too, so a bound on the files
// kept is not a bound on the work. Limit counts every byte that comes out of decompression.
package archive

import (
	"fmt"
	"io"
)

// Limit returns a reader of r that fails with an error naming what once more than max bytes
// have been read.
func Limit(r io.Reader, max int64, what string) io.Reader {
	return &limited{r: r, left: max, max: max, what: what}
}

type limited struct {
	r         io.Reader
	left, max int64
	what      string
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Exactly max bytes is within the bound: only a byte beyond it is too many.
		var one [1]byte
		if n, err := l.r.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("%s decompresses to more than %s", l.what, size(l.max))
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func size(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
