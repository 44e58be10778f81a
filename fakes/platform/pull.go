package platform

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SystemIdentity names a resource's system-assigned identity in Pull.Identity ("[system]",
// as ACR Tasks and ACI spell it, and "system" are the same).
const SystemIdentity = "system"

// IsSystem tells whether an identity reference means the system-assigned identity.
func IsSystem(identity string) bool {
	return strings.EqualFold(identity, SystemIdentity) || strings.EqualFold(identity, "[system]")
}

// Pull is one image a resource pulls, and how it authenticates.
type Pull struct {
	Image string
	// Identity is the managed identity to pull with: SystemIdentity, or a user-assigned
	// identity by ARM id or client id. "": Basic, or anonymous when Basic is nil too.
	Identity string
	// Basic is a registry username and password (pulled from the service's public origin).
	Basic *authn.Basic
	// VNet is the virtual network the pull leaves from ("": the service's outbound IP).
	VNet string
	// Refused, when set, fails the pull with it before it reaches the registry (a credential
	// the service does not support).
	Refused error
}

// PullResult is a pull's outcome: the image's digest, or why it failed.
type PullResult struct {
	Pull
	Digest v1.Hash
	Err    error
}

// Puller pulls for one resource as its service does: with a managed identity of the resource
// from the service's Azure origin (an Entra token from the managed-identity endpoint, traded
// at /oauth2/exchange), or with a username and password or anonymously from its public
// origin. This is the one place a simulated service decides how it authenticates.
type Puller struct {
	Platform     Platform
	Origin       string // of managed-identity pulls (a network.Service* name)
	PublicOrigin string // of username/password and anonymous pulls; "": Origin
	Identities   Identities
	// Noun is what the resource is called in refusals ("container group", "task").
	Noun string
}

// Login resolves pull's credential for server: an authenticator, and the transport of the
// origin its requests come from.
func (pl Puller) Login(ctx context.Context, pull Pull, server string) (authn.Authenticator, http.RoundTripper, error) {
	public := pl.PublicOrigin
	if public == "" {
		public = pl.Origin
	}
	switch {
	case pull.Refused != nil:
		return nil, nil, pull.Refused
	case pull.Identity != "":
		id := acrclient.Identity{Endpoint: pl.Platform.IdentityEndpoint(), Header: pl.Identities.Header}
		if IsSystem(pull.Identity) {
			if pl.Identities.System == nil {
				return nil, nil, fmt.Errorf("the %s has no system-assigned identity", pl.Noun)
			}
		} else {
			u := pl.Identities.UserIdentity(pull.Identity)
			if u == nil {
				return nil, nil, fmt.Errorf("the identity %s is not assigned to the %s", pull.Identity, pl.Noun)
			}
			id.ClientID = u.ClientID
		}
		tr := pl.Platform.Transport(From{Service: pl.Origin, SystemIdentity: id.ClientID == "", VNet: pull.VNet})
		auth, err := (&acrclient.Client{Transport: tr, Identity: id}).Login(ctx, server)
		return auth, tr, err
	case pull.Basic != nil:
		return pull.Basic, pl.Platform.Transport(From{Service: public, VNet: pull.VNet}), nil
	}
	return authn.Anonymous, pl.Platform.Transport(From{Service: public, VNet: pull.VNet}), nil
}

// Pull fetches pull's image: manifest, config and every layer, each checked against its digest.
func (pl Puller) Pull(ctx context.Context, pull Pull) PullResult {
	res := PullResult{Pull: pull}
	ref, err := name.ParseReference(pull.Image)
	if err != nil {
		res.Err = err
		return res
	}
	auth, tr, err := pl.Login(ctx, pull, ref.Context().RegistryStr())
	if err != nil {
		res.Err = err
		return res
	}
	res.Digest, res.Err = (&acrclient.Client{Transport: tr}).PullWith(ctx, pull.Image, auth)
	return res
}
