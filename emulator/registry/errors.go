package registry

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// Wire errors. Texts follow ACR where spec section 7 recorded them; the rest use the
// distribution registry's texts, which ACR (a distribution derivative) shares.
var (
	errBlobUnknown       = httpx.NewRegistryError(http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
	errBlobUploadUnknown = httpx.NewRegistryError(http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
	errBlobUploadInvalid = httpx.NewRegistryError(http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "blob upload invalid")
	errDigestInvalid     = httpx.NewRegistryError(http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content")
	errManifestInvalid   = httpx.NewRegistryError(http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
	errManifestBlob      = httpx.NewRegistryError(http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
	errNameInvalid       = httpx.NewRegistryError(http.StatusBadRequest, "NAME_INVALID", "invalid repository name")
	errTagInvalid        = httpx.NewRegistryError(http.StatusBadRequest, "TAG_INVALID", "manifest tag did not match URI")
	errRangeInvalid      = httpx.NewRegistryError(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "invalid content range")
	errSizeInvalid       = httpx.NewRegistryError(http.StatusRequestEntityTooLarge, "SIZE_INVALID", "request body exceeds the size limit")
	// errPendingLimit: unfinished uploads hold the most the emulator allows. 429 TOOMANYREQUESTS
	// is distribution's code for a registry that wants the client to slow down (ACR throttles
	// with it too); crane, docker and containerd retry it with backoff, then fail with the text.
	errPendingLimit = httpx.NewRegistryError(http.StatusTooManyRequests, "TOOMANYREQUESTS",
		"unfinished blob uploads hold the most bytes this emulator allows: finish or cancel uploads, or raise --max-pending-upload-bytes").
		WithHeader("Retry-After", "5")
	errPaginationInvalid = httpx.NewRegistryError(http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
	errDeleteByTag       = httpx.NewRegistryError(http.StatusMethodNotAllowed, "UNSUPPORTED", "A manifest can only be deleted by digest.")
	errUnsupported       = httpx.NewRegistryError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
	// errDisallowed is ACR's text for locked repositories, manifests and tags (changeableAttributes).
	// The status ACR uses is not confirmed; 405 UNSUPPORTED is what distribution clients report
	// most clearly for an operation the registry refuses on purpose.
	errDisallowed = httpx.NewRegistryError(http.StatusMethodNotAllowed, "UNSUPPORTED",
		"The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation")
)

func errNameUnknown(repo string) error {
	return httpx.NewRegistryError(http.StatusNotFound, "NAME_UNKNOWN", fmt.Sprintf("repository %q is not found", repo))
}

func errManifestUnknownTag(tag string) error {
	return httpx.NewRegistryError(http.StatusNotFound, "MANIFEST_UNKNOWN",
		fmt.Sprintf("manifest tagged by %q is not found", tag)).WithDetail(map[string]string{"Tag": tag})
}

func errManifestUnknownDigest(d digest.Digest) error {
	return httpx.NewRegistryError(http.StatusNotFound, "MANIFEST_UNKNOWN",
		fmt.Sprintf("manifest %q is not found", d.String())).WithDetail(map[string]string{"Digest": d.String()})
}

// storeError maps store sentinels to wire errors at the handler boundary.
func storeError(err error, repo string) error {
	var missing *store.MissingReferenceError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &missing):
		if missing.Manifest {
			return errManifestUnknownDigest(missing.Digest).(*httpx.RegistryError).
				WithMessage(fmt.Sprintf("manifest references a manifest that is not in the repository: %s", missing.Digest)).
				WithDetail(map[string]string{"Digest": missing.Digest.String()})
		}
		return errManifestBlob.WithMessage(fmt.Sprintf("blob unknown to registry: %s", missing.Digest)).
			WithDetail(map[string]string{"Digest": missing.Digest.String()})
	case errors.Is(err, store.ErrRepositoryNotFound):
		return errNameUnknown(repo)
	case errors.Is(err, store.ErrBlobNotFound):
		return errBlobUnknown
	case errors.Is(err, store.ErrUploadNotFound):
		return errBlobUploadUnknown
	case errors.Is(err, store.ErrWriteDisabled), errors.Is(err, store.ErrDeleteDisabled):
		return errDisallowed
	}
	return err
}
