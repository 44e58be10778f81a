package blobstore

import (
	"errors"
	"io"
	"os"
)

// Blob is an open handle on stored content: an io.ReadSeeker (for ranged requests) and an
// io.WriterTo that hands the bytes to a writer the cheapest way there is. Close it.
type Blob struct {
	n int64
	// In memory: immutable chunks, read at off.
	chunks [][]byte
	off    int64
	// On disk: the open file.
	f *os.File
}

// Size is the blob's length.
func (b *Blob) Size() int64 { return b.n }

// Name is the path of the blob's file on disk, "" in memory: a snapshot links the file
// instead of copying it.
func (b *Blob) Name() string {
	if b.f != nil {
		return b.f.Name()
	}
	return ""
}

// ReadSeeker is the blob as an io.ReadSeeker for http.ServeContent and ranged copies: on disk
// the *os.File itself, so the copy to a plain TCP connection is sendfile(2) (net/http hands
// it, or an io.LimitedReader of it, to the connection's ReadFrom); in memory the Blob.
func (b *Blob) ReadSeeker() io.ReadSeeker {
	if b.f != nil {
		return b.f
	}
	return b
}

// Read reads from the current offset.
func (b *Blob) Read(p []byte) (int, error) {
	if b.f != nil {
		return b.f.Read(p)
	}
	n, err := b.ReadAt(p, b.off)
	b.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads len(p) bytes at off.
func (b *Blob) ReadAt(p []byte, off int64) (int, error) {
	if b.f != nil {
		return b.f.ReadAt(p, off)
	}
	if off < 0 {
		return 0, errors.New("blobstore: negative offset")
	}
	n := 0
	for _, c := range b.chunks {
		if off >= int64(len(c)) {
			off -= int64(len(c))
			continue
		}
		m := copy(p[n:], c[off:])
		n += m
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// Seek sets the offset of the next Read.
func (b *Blob) Seek(offset int64, whence int) (int64, error) {
	if b.f != nil {
		return b.f.Seek(offset, whence)
	}
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.n
	}
	if offset < 0 {
		return 0, errors.New("blobstore: seek before the start")
	}
	b.off = offset
	return offset, nil
}

// WriteTo writes the rest of the blob to w. Memory chunks go to w as they are, one Write each
// (no copy, and large writes for TLS and TCP). A file goes to w's ReadFrom as an
// io.LimitedReader of the *os.File, the form net's sendfile(2) path takes: an
// http.ResponseWriter on plain HTTP passes it to the TCP connection (httpx.StatusRecorder and
// the sniffed connection keep ReadFrom reachable), so the bytes never enter the process.
func (b *Blob) WriteTo(w io.Writer) (int64, error) {
	if b.f != nil {
		off, err := b.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		return io.Copy(w, &io.LimitedReader{R: b.f, N: b.n - off})
	}
	var total int64
	off := b.off
	for _, c := range b.chunks {
		if off >= int64(len(c)) {
			off -= int64(len(c))
			continue
		}
		n, err := w.Write(c[off:])
		total += int64(n)
		b.off += int64(n)
		off = 0
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Close releases the handle (a file's descriptor).
func (b *Blob) Close() error {
	if b.f != nil {
		return b.f.Close()
	}
	return nil
}

// bytes reads the whole blob into one slice; a single memory chunk is shared, not copied.
func (b *Blob) bytes() ([]byte, error) {
	if b.f == nil && len(b.chunks) == 1 {
		return b.chunks[0], nil
	}
	out := make([]byte, b.n)
	_, err := io.ReadFull(io.NewSectionReader(b, 0, b.n), out)
	return out, err
}
