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
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrTooLarge is returned when an upload would grow past its limit.
var ErrTooLarge = errors.New("upload exceeds the size limit")

// ErrUploadClosed is returned by an upload that was committed or discarded.
var ErrUploadClosed = errors.New("upload session is closed")

// Upload is the growing body of one blob upload. Bytes are read straight into the store's
// space for them (memory chunks or a file's buffer) and hashed with sha256 as they arrive (the
// algorithm nearly every client asks for); other algorithms are computed once at the end. A
// chunk that fails part-way (client gone, limit hit) is rolled back entirely, so a retried
// PATCH starts from a consistent offset.
type Upload struct {
	mu    sync.Mutex // serialises Append, Digest and finish
	h     hash.Hash
	limit int64
	sk    sink

	// state is never held across I/O, so Discard and Idle do not wait for a slow body.
	state sync.Mutex
	busy  bool // an operation is using sk
	done  bool // committed or discarded: sk is no longer the upload's
	last  time.Time

	n atomic.Int64 // bytes received by completed chunks
}

// NewUpload starts an empty upload that refuses to grow past limit bytes (limit <= 0: no limit).
// Its bytes count against the store's pending limit until Commit or Discard.
func (s *Store) NewUpload(limit int64) (*Upload, error) {
	sk, err := s.be.newSink(&s.pending)
	if err != nil {
		return nil, err
	}
	return newUpload(limit, sk), nil
}

func newUpload(limit int64, sk sink) *Upload {
	return &Upload{h: sha256.New(), limit: limit, sk: sk, last: time.Now()}
}

// Size is the number of bytes received by completed chunks.
func (u *Upload) Size() int64 { return u.n.Load() }

// Idle is when the upload last received or answered anything; an upload whose body is being
// read is never idle (a slow body is the body deadline's business).
func (u *Upload) Idle() time.Time {
	u.state.Lock()
	defer u.state.Unlock()
	if u.busy {
		return time.Now()
	}
	return u.last
}

// begin marks the sink in use; false when the upload is closed.
func (u *Upload) begin() bool {
	u.state.Lock()
	defer u.state.Unlock()
	if u.done {
		return false
	}
	u.busy, u.last = true, time.Now()
	return true
}

// end releases the sink, discarding it when the upload was discarded meanwhile.
func (u *Upload) end() {
	u.state.Lock()
	defer u.state.Unlock()
	u.busy, u.last = false, time.Now()
	if u.done && u.sk != nil {
		u.sk.discard()
		u.sk = nil
	}
}

func (u *Upload) closed() bool {
	u.state.Lock()
	defer u.state.Unlock()
	return u.done
}

// Discard drops the upload's bytes and gives back what it held of the pending limit, at once
// or, when a chunk is being read, as soon as that read ends.
func (u *Upload) Discard() {
	u.state.Lock()
	defer u.state.Unlock()
	if u.done {
		return
	}
	u.done = true
	if !u.busy {
		u.sk.discard()
		u.sk = nil
	}
}

// finish closes the upload and hands its sink to Commit.
func (u *Upload) finish() (sink, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.state.Lock()
	defer u.state.Unlock()
	if u.done {
		return nil, ErrUploadClosed
	}
	u.done = true
	sk := u.sk
	u.sk = nil
	return sk, nil
}

// Append reads r to the end of the upload. When offset >= 0 it must equal the current size
// (the caller's view of the upload, from Content-Range); a mismatch returns *OffsetError
// without reading. want is how many bytes r announced (Content-Length; -1 unknown), so space is
// sized exactly. On any error the upload is left exactly as it was before the call.
func (u *Upload) Append(r io.Reader, offset, want int64) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.begin() {
		return 0, ErrUploadClosed
	}
	defer u.end()
	start := u.sk.size()
	if offset >= 0 && offset != start {
		return 0, &OffsetError{Want: start, Got: offset}
	}
	if want > 0 && !u.sk.fits(want) {
		// Refused before reading: the client learns at once, and no byte of it is held.
		return 0, ErrPendingLimit
	}
	state, err := u.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := u.readFrom(r, want)
	if err == nil {
		err = u.sk.flush()
	}
	if err != nil {
		// Roll back: the sink to where the chunk started, the hash to its state then.
		if terr := u.sk.truncate(start); terr != nil {
			return 0, errors.Join(err, terr)
		}
		if rerr := u.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); rerr != nil {
			return 0, rerr
		}
		return 0, err
	}
	u.n.Store(u.sk.size())
	return n, nil
}

func (u *Upload) readFrom(r io.Reader, want int64) (int64, error) {
	var total int64
	for {
		if u.closed() {
			return total, ErrUploadClosed
		}
		left := int64(-1) // what r still announces
		if want >= 0 {
			left = max(want-total, 0)
		}
		if left == 0 || (u.limit > 0 && u.sk.size() >= u.limit) {
			// Probe for one more byte: a body that ends here (at its announced length or exactly
			// at the limit) is fine.
			var one [1]byte
			n, err := r.Read(one[:])
			if n > 0 {
				if u.limit > 0 && u.sk.size() >= u.limit {
					return total, ErrTooLarge
				}
				if err := u.write(one[:n]); err != nil {
					return total, err
				}
				total += int64(n)
				want = -1 // r said less than it has
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
			continue
		}
		room, err := u.sk.room(left)
		if err != nil {
			return total, err
		}
		if u.limit > 0 {
			room = room[:min(int64(len(room)), u.limit-u.sk.size())]
		}
		n, err := r.Read(room)
		if n > 0 {
			u.h.Write(room[:n])
			if werr := u.sk.wrote(n); werr != nil {
				return total, werr
			}
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

// write copies b into the sink (the probe's byte).
func (u *Upload) write(b []byte) error {
	for len(b) > 0 {
		room, err := u.sk.room(-1)
		if err != nil {
			return err
		}
		n := copy(room, b)
		u.h.Write(room[:n])
		if err := u.sk.wrote(n); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Digest computes the digest of everything received, in the algorithm alg.
func (u *Upload) Digest(alg digest.Algorithm) (digest.Digest, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if alg == digest.SHA256 {
		return digest.NewDigest(alg, u.h), nil
	}
	if !alg.Available() {
		return "", fmt.Errorf("unsupported digest algorithm %q", alg)
	}
	if !u.begin() {
		return "", ErrUploadClosed
	}
	defer u.end()
	return alg.FromReader(u.sk.reader())
}

// OffsetError reports a chunk that does not start where the upload currently ends.
type OffsetError struct{ Want, Got int64 }

func (e *OffsetError) Error() string {
	return fmt.Sprintf("chunk starts at %d but the upload has %d bytes", e.Got, e.Want)
}
