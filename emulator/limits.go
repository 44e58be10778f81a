package emulator

import (
	"fmt"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
)

// Defaults of the bounds on what clients may hold and how slowly they may send.
const (
	// DefaultMaxPendingUploadBytes bounds unfinished uploads in memory: one largest upload
	// (registry.DefaultMaxUploadBytes) at a time, or many smaller ones.
	DefaultMaxPendingUploadBytes = 2 << 30
	// MaxDiskUploadBytes and DefaultMaxDiskPendingBytes are the same bounds with a blob
	// directory, where content is on disk and ML and data images often have layers of
	// several GiB.
	MaxDiskUploadBytes         = 64 << 30
	DefaultMaxDiskPendingBytes = 64 << 30
	// DefaultUploadTTL is how long a session is kept after its last chunk: clients send the
	// chunks of one blob back to back, so a quarter of an hour is an abandoned push.
	DefaultUploadTTL = 15 * time.Minute
	// DefaultBodyReadTimeout and MinBodyBytes: a body must deliver 16 KiB (or end) every 30 s,
	// about 550 bytes a second, which no live client on this machine's loopback falls under,
	// while a body trickling a byte every few seconds is cut within half a minute.
	DefaultBodyReadTimeout = 30 * time.Second
	MinBodyBytes           = 16 << 10
)

// newBlobStore makes the content store cfg asks for (in memory, or files in cfg.BlobDir) and
// fills in the upload bounds that depend on it.
func newBlobStore(cfg *Config) (*blobstore.Store, error) {
	pending := cfg.MaxPendingUploadBytes
	if cfg.BlobDir == "" {
		if pending == 0 {
			pending = DefaultMaxPendingUploadBytes
		}
		cfg.MaxPendingUploadBytes = pending
		return blobstore.New(blobstore.WithPendingLimit(pending)), nil
	}
	if pending == 0 {
		pending = DefaultMaxDiskPendingBytes
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = MaxDiskUploadBytes
	}
	cfg.MaxPendingUploadBytes = pending
	s, err := blobstore.NewDisk(cfg.BlobDir, blobstore.WithPendingLimit(pending))
	if err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	return s, nil
}

// maxUploadBytes is the largest single blob upload accepted.
func (e *Emulator) maxUploadBytes() int64 {
	return orDefault(e.cfg.MaxUploadBytes, registry.DefaultMaxUploadBytes)
}
