// Package token is ACR's token service and the registry's authentication gate: the challenge
// (WWW-Authenticate), POST /oauth2/exchange (Entra token → ACR refresh token),
// /oauth2/token (refresh token, admin user, service principal or anonymous → access token),
// and the check every data-plane request passes before it reaches the registry.
//
// Permissions are evaluated when tokens are issued (RBAC via emulator/rbac), as ACR does:
// an access token carries in its "access" claim only the requested actions the caller holds.
//
// Wire facts: shared/spec/acr-dataplane-auth.md sections 0-3 and 7.
package token

import (
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Identity is what the emulator's Entra says about a presented Entra access token.
type Identity struct {
	TenantID, ObjectID, AppID, Audience string
}

// IdentityVerifier validates Entra access tokens (signature, lifetime, issuer).
type IdentityVerifier interface {
	VerifyEntraToken(raw string) (*Identity, error)
}

// AccessFunc tells what a data-plane request needs (the registry declares it).
type AccessFunc func(r *http.Request) Scope

// Config wires a token service.
type Config struct {
	Store    *store.Store
	Entra    IdentityVerifier
	TenantID string
	Logger   *slog.Logger
	// RefreshTTL is the ACR refresh token lifetime (ACR: 3 hours); AccessTTL the access token's
	// (ACR's samples show 75 minutes).
	RefreshTTL time.Duration
	AccessTTL  time.Duration
	Now        func() time.Time
	// SigningKey signs ACR tokens; nil: a fresh key, so tokens die with the service.
	SigningKey *rsa.PrivateKey
}

// Service issues and checks ACR tokens for every registry of an emulator.
type Service struct {
	cfg    Config
	signer *signer
	cache  *mintCache
}

// New creates a token service.
func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 3 * time.Hour
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 75 * time.Minute
	}
	sg, err := newSigner(cfg.Now, cfg.SigningKey)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, signer: sg, cache: newMintCache(4096)}, nil
}

// nullGUID is the username that tells ACR the password is an ACR token (az acr login).
const nullGUID = "00000000-0000-0000-0000-000000000000"

// ACR's data-plane actions, and the resource types of scopes.
var allRepositoryActions = []string{"pull", "push", "delete", "metadata_read", "metadata_write"}

const (
	typeRepository = "repository"
	typeRegistry   = "registry"
)

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// registry loads the registry record; a missing one is a programming error upstream.
func (s *Service) registry(name string) (*store.Registry, error) {
	reg, err := s.cfg.Store.GetRegistry(name)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New("token: unknown registry " + name)
	}
	return reg, nil
}

// Handler serves /oauth2/exchange and /oauth2/token of one registry.
func (s *Service) Handler(registry string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/oauth2/exchange", s.errorsAsRegistry(func(w http.ResponseWriter, r *http.Request) error {
		return s.exchange(w, r, registry)
	}))
	mux.Handle("/oauth2/token", s.errorsAsRegistry(func(w http.ResponseWriter, r *http.Request) error {
		return s.token(w, r, registry)
	}))
	return mux
}

// IsTokenPath reports whether a path belongs to the token service.
func IsTokenPath(p string) bool { return p == "/oauth2/exchange" || p == "/oauth2/token" }
