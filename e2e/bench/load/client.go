package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// client speaks the distribution API to one repository with a token of its own, as one run of
// docker or crane does: it pings, authenticates for its scope, then sends plain requests.
type client struct {
	base string // scheme://host
	repo string
	http *http.Client
}

func (t Target) client(ctx context.Context, repo string, push bool) (*client, error) {
	var opts []name.Option
	if t.Insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(t.Registry, opts...)
	if err != nil {
		return nil, err
	}
	scope := transport.PullScope
	if push {
		scope = transport.PushScope
	}
	rt, err := transport.NewWithContext(ctx, reg, t.auth(), t.transport(), []string{reg.Repo(repo).Scope(scope)})
	if err != nil {
		return nil, err
	}
	scheme := "https"
	if t.Insecure {
		scheme = "http"
	}
	return &client{base: scheme + "://" + t.Registry, repo: repo, http: &http.Client{Transport: rt}}, nil
}

func (c *client) do(ctx context.Context, method, u string, body io.Reader, size int64, header http.Header, want int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		defer res.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
		return nil, fmt.Errorf("%s %s: %d, want %d: %s", method, req.URL.Path, res.StatusCode, want, strings.TrimSpace(string(msg)))
	}
	return res, nil
}

// done drains and closes a response whose body is not needed, so its connection is reused.
func done(res *http.Response) {
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
}

// location resolves an upload's Location against the request that returned it.
func location(res *http.Response) (*url.URL, error) {
	loc, err := res.Location()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", res.Request.Method, res.Request.URL.Path, err)
	}
	return loc, nil
}

// pushBlob uploads one blob in the given mode; body(off, n) reads its bytes [off, off+n).
func (c *client) pushBlob(ctx context.Context, up Upload, digest string, size int64, body func(off, n int64) io.Reader) error {
	res, err := c.do(ctx, http.MethodPost, c.base+"/v2/"+c.repo+"/blobs/uploads/", nil, 0, nil, http.StatusAccepted)
	if err != nil {
		return err
	}
	done(res)
	loc, err := location(res)
	if err != nil {
		return err
	}
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	var last io.Reader
	var lastSize int64
	switch up.Mode {
	case Monolithic:
		last, lastSize = body(0, size), size
	case Stream, Chunked:
		chunk := size
		if up.Mode == Chunked && up.ChunkSize > 0 {
			chunk = up.ChunkSize
		}
		for off := int64(0); off < size; off += chunk {
			n := min(chunk, size-off)
			h := octet
			if up.Mode == Chunked {
				h = http.Header{"Content-Type": octet["Content-Type"], "Content-Range": {strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)}}
			}
			res, err := c.do(ctx, http.MethodPatch, loc.String(), body(off, n), n, h, http.StatusAccepted)
			if err != nil {
				return err
			}
			done(res)
			if loc, err = location(res); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown upload mode %q", up.Mode)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	res, err = c.do(ctx, http.MethodPut, loc.String(), last, lastSize, octet, http.StatusCreated)
	if err != nil {
		return err
	}
	done(res)
	return nil
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// pushImage uploads the layers (jobs at a time), a config naming them and a manifest tagged tag.
// It returns the bytes sent.
func (c *client) pushImage(ctx context.Context, up Upload, jobs int, layers []layer, tag string) (int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	diffIDs := make([]string, len(layers))
	m := manifest{SchemaVersion: 2, MediaType: mediaManifest}
	var total int64
	for i, l := range layers {
		diffIDs[i] = l.digest
		m.Layers = append(m.Layers, descriptor{MediaType: mediaLayer, Digest: l.digest, Size: l.c.size})
		total += l.c.size
		g.Go(func() error { return c.pushBlob(gctx, up, l.digest, l.c.size, l.section) })
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	cd := digestOf(cfg)
	if err := c.pushBlob(ctx, up, cd, int64(len(cfg)), func(off, n int64) io.Reader { return bytes.NewReader(cfg[off : off+n]) }); err != nil {
		return 0, err
	}
	m.Config = descriptor{MediaType: mediaConfig, Digest: cd, Size: int64(len(cfg))}
	body, _ := json.Marshal(m)
	res, err := c.do(ctx, http.MethodPut, c.base+"/v2/"+c.repo+"/manifests/"+tag, bytes.NewReader(body), int64(len(body)),
		http.Header{"Content-Type": {mediaManifest}}, http.StatusCreated)
	if err != nil {
		return 0, err
	}
	done(res)
	return total + int64(len(cfg)+len(body)), nil
}

// pullImage fetches the manifest, the config and every layer (jobs at a time), reading each blob
// fully and, with verify, checking its digest as clients do. It returns the bytes read.
func (c *client) pullImage(ctx context.Context, ref string, jobs int, verify bool) (int64, error) {
	res, err := c.do(ctx, http.MethodGet, c.base+"/v2/"+c.repo+"/manifests/"+ref, nil, 0, http.Header{"Accept": {mediaManifest}}, http.StatusOK)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	_ = res.Body.Close()
	if err != nil {
		return 0, err
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, fmt.Errorf("manifest %s: %v", ref, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	sizes := make([]int64, len(m.Layers)+1)
	for i, d := range append([]descriptor{m.Config}, m.Layers...) {
		g.Go(func() error {
			n, err := c.pullBlob(gctx, d, verify)
			sizes[i] = n
			return err
		})
	}
	err = g.Wait()
	total := int64(len(body))
	for _, n := range sizes {
		total += n
	}
	return total, err
}

func (c *client) pullBlob(ctx context.Context, d descriptor, verify bool) (int64, error) {
	res, err := c.do(ctx, http.MethodGet, c.base+"/v2/"+c.repo+"/blobs/"+d.Digest, nil, 0, nil, http.StatusOK)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	// A writer without ReadFrom, so the copy uses buf (io.Discard would read 8 KiB at a time).
	var w io.Writer = struct{ io.Writer }{io.Discard}
	h := sha256.New()
	if verify {
		w = h
	}
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(w, res.Body, buf)
	if err != nil {
		return n, fmt.Errorf("blob %s: %v", d.Digest, err)
	}
	if n != d.Size {
		return n, fmt.Errorf("blob %s: read %d bytes, want %d", d.Digest, n, d.Size)
	}
	if verify {
		if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != d.Digest {
			return n, fmt.Errorf("blob %s: content hashes to %s", d.Digest, got)
		}
	}
	return n, nil
}
