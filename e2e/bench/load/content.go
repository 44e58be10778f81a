package load

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
)

// tagLen is the size of the tag that makes each layer distinct.
const tagLen = 16

// maxBlock bounds the random block a layer repeats, so a 2 GiB layer costs the client 64 MiB.
const maxBlock = 64 << 20

// content makes distinct layers of one size cheaply: every layer is the same random block,
// repeated to size-tagLen bytes, then a tag unique to the layer. The sha256 state after the
// shared part is computed once, so a layer's digest costs 16 bytes of hashing and its body is
// served from the shared block without copying. Registries see incompressible, never-repeated
// blobs; none of the three compares blocks.
type content struct {
	size   int64
	block  []byte
	prefix []byte // sha256 state after size-tagLen bytes
}

func newContent(size int64, seed uint64) (*content, error) {
	if size < tagLen {
		return nil, fmt.Errorf("layer size %d: at least %d bytes", size, tagLen)
	}
	n := min(size-tagLen, maxBlock)
	c := &content{size: size, block: make([]byte, n)}
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	_, _ = r.Read(c.block)
	h := sha256.New()
	if _, err := c.copyShared(h, 0, size-tagLen); err != nil {
		return nil, err
	}
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	c.prefix = state
	return c, nil
}

// copyShared writes the shared bytes [off, off+n) to w.
func (c *content) copyShared(w io.Writer, off, n int64) (int64, error) {
	var total int64
	for n > 0 && len(c.block) > 0 {
		i := off % int64(len(c.block))
		part := c.block[i:min(int64(len(c.block)), i+n)]
		m, err := w.Write(part)
		total += int64(m)
		if err != nil {
			return total, err
		}
		off += int64(m)
		n -= int64(m)
	}
	return total, nil
}

// layer is one distinct blob of the content's size.
type layer struct {
	c      *content
	tag    [tagLen]byte
	digest string
}

func (c *content) layer(run, n uint64) (layer, error) {
	l := layer{c: c}
	binary.BigEndian.PutUint64(l.tag[:8], run)
	binary.BigEndian.PutUint64(l.tag[8:], n)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(c.prefix); err != nil {
		return l, err
	}
	h.Write(l.tag[:])
	l.digest = fmt.Sprintf("sha256:%x", h.Sum(nil))
	return l, nil
}

// section reads the layer's bytes [off, off+n) without copying them first.
func (l layer) section(off, n int64) io.Reader {
	shared := l.c.size - tagLen
	var parts []io.Reader
	for n > 0 && off < shared {
		i := off % int64(len(l.c.block))
		m := min(int64(len(l.c.block))-i, n, shared-off)
		parts = append(parts, bytes.NewReader(l.c.block[i:i+m]))
		off += m
		n -= m
	}
	if n > 0 {
		t := off - shared
		parts = append(parts, bytes.NewReader(l.tag[t:t+n]))
	}
	return io.MultiReader(parts...)
}
