package emulator

import (
	"context"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/importer"
	"github.com/google/go-containerregistry/pkg/authn"
)

// A service identity is what a simulated Azure service acts as inside Azure (ACR's import,
// Defender's scanner): a principal only the emulator knows the secret of, with roles on every
// registry of the subscription (legacy and ABAC roles, so both registry modes accept it).
type serviceIdentity struct{ clientID, secret string }

func (s serviceIdentity) auth() *authn.Basic {
	return &authn.Basic{Username: s.clientID, Password: s.secret}
}

func (e *Emulator) createServiceIdentity(displayName string, roles ...string) (serviceIdentity, error) {
	p := &store.Principal{ObjectID: ids.NewGUID(), AppID: ids.NewGUID(), TenantID: e.world.TenantID,
		DisplayName: displayName, Kind: store.KindServicePrincipal, Secrets: []string{ids.NewGUID() + ids.NewGUID()}}
	if err := e.st.PutPrincipal(p); err != nil {
		return serviceIdentity{}, err
	}
	e.internal[p.ObjectID] = true
	scope := e.world.SubscriptionScope()
	for _, role := range roles {
		def, _ := rbac.RoleByName(role)
		name := ids.NewGUID()
		if err := e.st.PutRoleAssignment(&store.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, Name: name,
			Scope: scope, RoleDefinitionID: rbac.DefinitionID(e.world.SubscriptionID, def.ID), PrincipalID: p.ObjectID, PrincipalType: "ServicePrincipal",
			Description: displayName}); err != nil {
			return serviceIdentity{}, err
		}
	}
	return serviceIdentity{clientID: p.AppID, secret: p.Secrets[0]}, nil
}

// importImage resolves the source and runs the import (fakes/importer says who reads and
// writes what, from where).
func (e *Emulator) importImage(ctx context.Context, req arm.ImportRequest) error {
	target, err := e.st.GetRegistry(req.TargetRegistry)
	if err != nil {
		return err
	}
	source, err := e.findSource(req)
	if err != nil {
		return err
	}
	if source == nil {
		what := req.SourceResourceID
		if what == "" {
			what = req.SourceRegistryURI
		}
		return &importer.Error{Code: "InvalidParameters", Message: "The source registry '" + what + "' could not be found. Only registries of the emulator can be imported from."}
	}
	if source.ExportDisabled && source.Name != target.Name {
		// https://aka.ms/acr/export-policy: a registry with export disabled cannot be imported
		// from into another registry. ACR's code and text here are UNCONFIRMED.
		return &importer.Error{Code: "ExportPolicyDisabled", Message: "Artifacts cannot be exported from the registry '" + source.Name +
			"': its export policy is disabled. For more information, please visit https://aka.ms/acr/export-policy."}
	}
	im := &importer.Importer{
		Transport: e.ServiceTransport(AzureService{Name: network.ServiceImport}),
		Auth:      e.acrService.auth(),
	}
	r := importer.Request{SourceLoginServer: source.LoginServer, SourceImage: req.SourceImage, TargetLoginServer: target.LoginServer,
		TargetTags: req.TargetTags, UntaggedTargetRepositories: req.UntaggedTargetRepositories, Force: req.Force}
	if req.SourceResourceID != "" {
		// ARM checked the caller's pull right on the source; ACR reads it as itself.
		r.SourceAuth, r.SourceTransport = im.Auth, im.Transport
	} else {
		public := e.ServiceTransport(AzureService{Name: network.ServiceImportPublic, OutboundIP: outboundIP(network.ServiceImportPublic)})
		r.SourceTransport = public
		if r.SourceAuth, err = sourceCredential(ctx, public, source.LoginServer, req.Username, req.Password); err != nil {
			return err
		}
	}
	return im.Import(ctx, r)
}

// sourceCredential is what a registryUri source is read with: the request's username and
// password, a password alone as an Entra access token (az acr import -p <token>: ACR trades it
// at the source's /oauth2/exchange), or nothing (anonymous pull).
func sourceCredential(ctx context.Context, tr http.RoundTripper, loginServer, username, password string) (authn.Authenticator, error) {
	switch {
	case username != "":
		return &authn.Basic{Username: username, Password: password}, nil
	case password != "":
		auth, err := (&acrclient.Client{Transport: tr}).Exchange(ctx, loginServer, password)
		if err != nil {
			return nil, &importer.Error{Code: "Forbidden", Message: "The source registry refused the import: " + acrclient.Message(err)}
		}
		return auth, nil
	}
	return authn.Anonymous, nil
}

func (e *Emulator) findSource(req arm.ImportRequest) (*store.Registry, error) {
	regs, err := e.st.ListRegistries()
	if err != nil {
		return nil, err
	}
	uri := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(req.SourceRegistryURI, "https://"), "http://"), "/"))
	for _, r := range regs {
		switch {
		case req.SourceResourceID != "" && strings.EqualFold(r.ID, req.SourceResourceID):
			return r, nil
		case uri != "" && (strings.EqualFold(r.LoginServer, uri) || uri == r.Name+".azurecr.io"):
			return r, nil
		}
	}
	return nil, nil
}
