package blobstore

import (
	"io"

	"github.com/opencontainers/go-digest"
)

const (
	// maxChunk bounds one allocation: large enough that a chunk is one Write to a connection,
	// small enough that a body whose length is unknown wastes little in its last chunk.
	maxChunk = 8 << 20
	// minChunk starts a body of unknown length; chunks then double with the bytes received.
	minChunk = 64 << 10
)

// memory keeps content as lists of chunks.
type memory struct{}

type memContent struct{ chunks [][]byte }

func (c *memContent) size() int64 {
	var n int64
	for _, b := range c.chunks {
		n += int64(len(b))
	}
	return n
}

func (c *memContent) open() (*Blob, error) { return &Blob{n: c.size(), chunks: c.chunks}, nil }

func (c *memContent) remove() {} // the collector frees the chunks once no reader holds them

func (memory) put(_ digest.Digest, data []byte) (content, error) {
	return &memContent{chunks: [][]byte{data}}, nil
}

func (memory) newSink(b *budget) (sink, error) { return &memSink{budget: b}, nil }

func (memory) finish(s sink, _ digest.Digest) (content, error) {
	m := s.(*memSink)
	m.trim()
	c := &memContent{chunks: m.chunks}
	m.chunks = nil
	m.budget.free(m.reserved)
	m.reserved = 0
	return c, nil
}

func (memory) link(digest.Digest, string, int64) (content, bool, error) { return nil, false, nil }

// sink is where an upload's bytes go as they arrive.
type sink interface {
	// room returns space to read the next bytes into; want is how many more bytes the client
	// announced (-1: unknown), so space can be sized exactly.
	room(want int64) ([]byte, error)
	// wrote records that the first n bytes of the last room were filled.
	wrote(n int) error
	size() int64
	// truncate drops everything past n (a chunk that failed part-way).
	truncate(n int64) error
	// flush ends a chunk: bytes still buffered go where they are kept.
	flush() error
	// fits reports whether n more bytes fit in the pending budget now.
	fits(n int64) bool
	// reader reads everything received (digests other than sha256 are computed at the end).
	reader() io.Reader
	// discard frees everything and gives the reservation back.
	discard()
}

// memSink is a growing list of chunks; every byte of capacity is reserved in the budget.
type memSink struct {
	budget   *budget
	chunks   [][]byte
	n        int64
	reserved int64
}

func (m *memSink) room(want int64) ([]byte, error) {
	if k := len(m.chunks); k > 0 {
		last := m.chunks[k-1]
		if len(last) < cap(last) {
			return last[len(last):cap(last)], nil
		}
	}
	size := int64(maxChunk)
	if want > 0 {
		size = min(size, want)
	} else {
		size = min(size, max(minChunk, m.n))
	}
	if err := m.budget.reserve(size); err != nil {
		return nil, err
	}
	m.reserved += size
	m.chunks = append(m.chunks, make([]byte, 0, size))
	last := m.chunks[len(m.chunks)-1]
	return last[:cap(last)], nil
}

func (m *memSink) wrote(n int) error {
	k := len(m.chunks) - 1
	m.chunks[k] = m.chunks[k][:len(m.chunks[k])+n]
	m.n += int64(n)
	return nil
}

func (m *memSink) size() int64 { return m.n }

func (m *memSink) flush() error { return nil }

func (m *memSink) fits(n int64) bool {
	if k := len(m.chunks); k > 0 {
		n -= int64(cap(m.chunks[k-1]) - len(m.chunks[k-1])) // already reserved
	}
	return m.budget.fits(n)
}

func (m *memSink) truncate(n int64) error {
	var kept int64
	for i, c := range m.chunks {
		if kept+int64(len(c)) >= n {
			m.chunks[i] = c[:n-kept]
			for _, dropped := range m.chunks[i+1:] {
				m.reserved -= int64(cap(dropped))
				m.budget.free(int64(cap(dropped)))
			}
			clear(m.chunks[i+1:])
			m.chunks = m.chunks[:i+1]
			break
		}
		kept += int64(len(c))
	}
	m.n = n
	return nil
}

// trim makes the last chunk exactly as long as its bytes (a body of unknown length ends part
// of the way into its chunk): a copy of at most one chunk, so stored blobs cost their size.
func (m *memSink) trim() {
	k := len(m.chunks) - 1
	if k < 0 {
		return
	}
	if last := m.chunks[k]; len(last) == 0 {
		m.chunks = m.chunks[:k]
	} else if len(last) < cap(last) {
		exact := make([]byte, len(last))
		copy(exact, last)
		m.chunks[k] = exact
	}
}

func (m *memSink) reader() io.Reader { return &Blob{n: m.n, chunks: m.chunks} }

func (m *memSink) discard() {
	m.chunks = nil
	m.n = 0
	m.budget.free(m.reserved)
	m.reserved = 0
}
