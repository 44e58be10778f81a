package blobstore

import (
	"crypto/sha256"
	_ "crypto/sha512" // registers sha512 for digest.SHA512
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// ErrTooLarge is returned when an upload would grow past its limit.
var ErrTooLarge = errors.New("upload exceeds the size limit")

// Upload is the growing body of one blob upload session. Bytes are hashed with sha256 as they
// arrive (the algorithm nearly every client asks for); other algorithms are computed once at
// completion. A chunk that fails part-way (client gone, limit hit) is rolled back entirely, so a
// retried PATCH starts from a consistent offset.
type Upload struct {
	mu    sync.Mutex
	buf   []byte
	h     hash.Hash
	limit int64
}

// NewUpload starts an empty upload that refuses to grow past limit bytes (limit <= 0: no limit).
func NewUpload(limit int64) *Upload {
	return &Upload{h: sha256.New(), limit: limit}
}

// Size is the number of bytes received so far.
func (u *Upload) Size() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return int64(len(u.buf))
}

// Append copies r to the end of the upload. When offset >= 0 it must equal the current size
// (the caller's view of the upload, from Content-Range); a mismatch returns ErrOffset without
// reading. On any error the upload is left exactly as it was before the call.
func (u *Upload) Append(r io.Reader, offset int64) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	start := int64(len(u.buf))
	if offset >= 0 && offset != start {
		return 0, &OffsetError{Want: start, Got: offset}
	}
	state, err := u.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := u.readFrom(r)
	if err != nil {
		u.buf = u.buf[:start]
		if rerr := u.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); rerr != nil {
			return 0, rerr
		}
		return 0, err
	}
	return n, nil
}

func (u *Upload) readFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if len(u.buf) == cap(u.buf) {
			u.buf = append(u.buf, 0)[:len(u.buf)]
		}
		room := u.buf[len(u.buf):cap(u.buf)]
		if u.limit > 0 {
			left := u.limit - int64(len(u.buf))
			if left <= 0 {
				// Probe for one more byte: an upload exactly at the limit is fine.
				var one [1]byte
				n, err := r.Read(one[:])
				if n > 0 {
					return total, ErrTooLarge
				}
				if err == io.EOF {
					return total, nil
				}
				if err != nil {
					return total, err
				}
				continue
			}
			if int64(len(room)) > left {
				room = room[:left]
			}
		}
		n, err := r.Read(room)
		if n > 0 {
			u.h.Write(room[:n])
			u.buf = u.buf[:len(u.buf)+n]
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Digest computes the digest of everything received, in the algorithm of want.
func (u *Upload) Digest(alg digest.Algorithm) (digest.Digest, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if alg == digest.SHA256 {
		return digest.NewDigest(alg, u.h), nil
	}
	if !alg.Available() {
		return "", fmt.Errorf("unsupported digest algorithm %q", alg)
	}
	return alg.FromBytes(u.buf), nil
}

// Bytes hands over the received bytes without copying; the upload must not be used afterwards.
func (u *Upload) Bytes() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.buf
	u.buf = nil
	return b
}

// OffsetError reports a chunk that does not start where the upload currently ends.
type OffsetError struct{ Want, Got int64 }

func (e *OffsetError) Error() string {
	return fmt.Sprintf("chunk starts at %d but the upload has %d bytes", e.Got, e.Want)
}
