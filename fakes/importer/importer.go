// Package importer simulates ACR import (registries/importImage): it copies an image, by tag
// or digest, from one registry of the emulator into another. Import runs inside ACR: it
// writes the target as ACR's own service identity from the trusted "import" origin. The
// source is read as the request says: a source named by resource id as ACR's service (the
// management plane has checked the caller's pull right on it) from the same trusted origin,
// so it reaches registries whose network rules allow trusted services; a source named by
// registry URI with the request's credentials, or anonymously, from import's public side,
// which no bypass covers (as Azure documents: a registry with public access disabled can be
// imported from only by resource id).
package importer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Request is an import, with the source resolved to a login server and a credential.
type Request struct {
	SourceLoginServer string
	SourceImage       string // repo[:tag] or repo@digest
	// SourceAuth is what reads the source (nil: anonymous); SourceTransport is the origin it
	// reads from.
	SourceAuth                 authn.Authenticator
	SourceTransport            http.RoundTripper
	TargetLoginServer          string
	TargetTags                 []string // repo[:tag]; default: the source's repo and tag
	UntaggedTargetRepositories []string
	Force                      bool
}

// Importer copies images between registries.
type Importer struct {
	// Transport reaches the emulator from the trusted import origin.
	Transport http.RoundTripper
	// Auth is ACR's service identity, allowed to read and write every registry.
	Auth authn.Authenticator
}

// Error is an import failure with ARM's error code.
type Error struct{ Code, Message string }

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ARMCode and ARMMessage report the failure in ARM's error envelope.
func (e *Error) ARMCode() string    { return e.Code }
func (e *Error) ARMMessage() string { return e.Message }

// Import performs req.
func (im *Importer) Import(ctx context.Context, req Request) error {
	srcRef, err := name.ParseReference(req.SourceLoginServer + "/" + req.SourceImage)
	if err != nil {
		return &Error{"InvalidParameters", "The source image '" + req.SourceImage + "' is not valid: " + err.Error()}
	}
	// "When tag is omitted the source will be used (or 'latest' if source tag is also omitted)."
	sourceTag := "latest"
	if t, ok := srcRef.(name.Tag); ok {
		sourceTag = t.TagStr()
	}
	targets := req.TargetTags
	if len(targets) == 0 && len(req.UntaggedTargetRepositories) == 0 {
		targets = []string{srcRef.Context().RepositoryStr()}
	}
	srcAuth := req.SourceAuth
	if srcAuth == nil {
		srcAuth = authn.Anonymous
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(im.Transport)}
	desc, err := remote.Get(srcRef, remote.WithContext(ctx), remote.WithTransport(req.SourceTransport), remote.WithAuth(srcAuth))
	if err != nil {
		return registryFailure("source", err)
	}
	var refs []name.Reference
	for _, t := range targets {
		if !strings.Contains(t[strings.LastIndex(t, "/")+1:], ":") {
			t += ":" + sourceTag
		}
		tag, err := name.NewTag(req.TargetLoginServer + "/" + t)
		if err != nil {
			return &Error{"InvalidParameters", "The target tag '" + t + "' is not valid: " + err.Error()}
		}
		if !req.Force {
			// NoForce: refuse before copying anything if a target tag exists. (Text is a guess.)
			if _, err := remote.Head(tag, append(opts, remote.WithAuth(im.Auth))...); err == nil {
				return &Error{"InvalidParameters", fmt.Sprintf("The target tag '%s' already exists. Use Force mode to overwrite it.", t)}
			}
		}
		refs = append(refs, tag)
	}
	for _, repo := range req.UntaggedTargetRepositories {
		d, err := name.NewDigest(req.TargetLoginServer + "/" + repo + "@" + desc.Digest.String())
		if err != nil {
			return &Error{"InvalidParameters", "The target repository '" + repo + "' is not valid: " + err.Error()}
		}
		refs = append(refs, d)
	}
	for _, ref := range refs {
		if err := copyTo(ctx, desc, ref, im.Transport, im.Auth); err != nil {
			return registryFailure("target", err)
		}
	}
	return nil
}

// copyTo writes the source (image or index) to ref, blobs included.
func copyTo(ctx context.Context, desc *remote.Descriptor, ref name.Reference, tr http.RoundTripper, auth authn.Authenticator) error {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr), remote.WithAuth(auth)}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return remote.WriteIndex(ref, idx, opts...)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return remote.Write(ref, img, opts...)
}

// registryFailure reports a registry's refusal with its own text.
func registryFailure(side string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0].Message
		code := "InvalidParameters"
		if te.StatusCode == http.StatusForbidden || te.StatusCode == http.StatusUnauthorized {
			code = "Forbidden"
		}
		if te.StatusCode == http.StatusNotFound {
			return &Error{"InvalidParameters", "The " + side + " image was not found: " + strings.ToLower(string(te.Errors[0].Code)) + ": " + msg}
		}
		return &Error{code, "The " + side + " registry refused the import: " + strings.ToLower(string(te.Errors[0].Code)) + ": " + msg}
	}
	return &Error{"InternalServerError", err.Error()}
}
