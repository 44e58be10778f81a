package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Config tells a session where the emulator is and who to be (the default world's values
// unless set).
type Config struct {
	Emulator       string // base URL of the main HTTPS listener, e.g. https://localhost:8443
	CAFile         string // the emulator's ca.pem
	TenantID       string
	SubscriptionID string
	ResourceGroup  string
	ClientID       string // a service principal allowed to manage the registries (Owner)
	ClientSecret   string
}

// DefaultConfig is the default world at its default address.
func DefaultConfig() Config {
	home, _ := os.UserHomeDir()
	return Config{
		Emulator: "https://localhost:8443", CAFile: home + "/.acr-emulator/ca.pem",
		TenantID: "11111111-1111-1111-1111-111111111111", SubscriptionID: "22222222-2222-2222-2222-222222222222",
		ResourceGroup: "demo-rg", ClientID: "33333333-3333-3333-3333-333333333333", ClientSecret: "acr-emulator-client-secret",
	}
}

// Session is a scenario's connection to the emulator.
type Session struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	armToken string
	armExp   time.Time
}

// NewSession connects to the emulator described by cfg.
func NewSession(cfg Config) (*Session, error) {
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("the emulator's CA: %w (start the emulator first, or pass --ca)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", cfg.CAFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: nil}
	return &Session{cfg: cfg, client: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

// Profile is the running emulator's behaviour profile (seed or current), from /_emulator/state.
func (s *Session) Profile(ctx context.Context) (string, error) {
	var state struct {
		World struct {
			Profile string `json:"profile"`
		} `json:"world"`
	}
	if err := s.state(ctx, &state); err != nil {
		return "", err
	}
	if state.World.Profile == "" {
		return "seed", nil
	}
	return state.World.Profile, nil
}

// state decodes /_emulator/state into v.
func (s *Session) state(ctx context.Context, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Emulator+"/_emulator/state", nil)
	if err != nil {
		return err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("/_emulator/state: %w", err)
	}
	return nil
}

// Via returns a session whose registry requests come from a named origin of the world (a
// VNet, an office...), through that origin's proxy as /_emulator/state lists it.
func (s *Session) Via(ctx context.Context, origin string) (*Session, error) {
	var state struct {
		Origins []struct{ Name, ProxyURL string } `json:"origins"`
	}
	if err := s.state(ctx, &state); err != nil {
		return nil, err
	}
	for _, o := range state.Origins {
		if o.Name != origin {
			continue
		}
		proxy, err := url.Parse(o.ProxyURL)
		if err != nil {
			return nil, err
		}
		tr := s.client.Transport.(*http.Transport).Clone()
		tr.Proxy = http.ProxyURL(proxy)
		return &Session{cfg: s.cfg, client: &http.Client{Transport: tr, Timeout: s.client.Timeout}}, nil
	}
	return nil, fmt.Errorf("the emulator's world has no origin %q (the default world has appvnet)", origin)
}

// ARM sends a management request as the configured service principal and decodes the JSON
// answer. path starts with /subscriptions...; api-version is added when missing.
func (s *Session) ARM(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	status, _, out, err := s.ARMResponse(ctx, method, path, body)
	return status, out, err
}

// Operation follows an asynchronous answer to its outcome: the Azure-AsyncOperation status
// ({"status", "error"}) or the Location result of a response's headers (nil when it has
// neither). The emulator's operations are done when it answers, so one poll is enough.
func (s *Session) Operation(ctx context.Context, header http.Header) (map[string]any, error) {
	u := header.Get("Azure-AsyncOperation")
	if u == "" {
		u = header.Get("Location")
	}
	i := strings.Index(u, "/subscriptions/")
	if i < 0 {
		return nil, nil
	}
	status, out, err := s.ARM(ctx, http.MethodGet, u[i:], nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %v", u, status, out["error"])
	}
	return out, err
}

// AuditEntry is one data-plane decision of /_emulator/audit.
type AuditEntry struct {
	Registry, Origin, ClientIP, Principal, Method, Path, Decision, Rule string
	Status                                                              int
}

// Audit lists a registry's recent data-plane decisions ("allowed", "denied" or "" for both).
func (s *Session) Audit(ctx context.Context, registry, decision string) ([]AuditEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Emulator+"/_emulator/audit?registry="+registry+"&decision="+decision, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var audit struct {
		Entries []AuditEntry `json:"entries"`
	}
	if err := json.NewDecoder(res.Body).Decode(&audit); err != nil {
		return nil, fmt.Errorf("/_emulator/audit: %w", err)
	}
	return audit.Entries, nil
}

// ARMResponse is ARM with the answer's headers (async-operation and Location URLs).
func (s *Session) ARMResponse(ctx context.Context, method, path string, body any) (int, http.Header, map[string]any, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	if !strings.Contains(path, "api-version=") {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "api-version=2025-11-01"
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.cfg.Emulator+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	out := map[string]any{}
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, res.Header, out, nil
}

// token gets (and caches) an Entra token for ARM with the client-credentials grant.
func (s *Session) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armToken != "" && time.Now().Before(s.armExp) {
		return s.armToken, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.cfg.ClientID}, "client_secret": {s.cfg.ClientSecret},
		"scope": {"https://management.azure.com/.default"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Emulator+"/"+s.cfg.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("Entra token for the service principal: %s (%v)", body.Error, err)
	}
	s.armToken, s.armExp = body.AccessToken, time.Now().Add(time.Duration(body.ExpiresIn/2)*time.Second)
	return s.armToken, nil
}

// ResourceGroupPath is the ARM path of the session's resource group.
func (s *Session) ResourceGroupPath() string {
	return "/subscriptions/" + s.cfg.SubscriptionID + "/resourceGroups/" + s.cfg.ResourceGroup
}

// SubscriptionID is the session's subscription.
func (s *Session) SubscriptionID() string { return s.cfg.SubscriptionID }

// RegistryPath is the ARM path of a registry of the session's resource group.
func (s *Session) RegistryPath(registry string) string {
	return "/subscriptions/" + s.cfg.SubscriptionID + "/resourceGroups/" + s.cfg.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + registry
}

// Registry reads a registry's ARM resource.
func (s *Session) Registry(ctx context.Context, registry string) (map[string]any, error) {
	status, body, err := s.ARM(ctx, http.MethodGet, s.RegistryPath(registry), nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %v", registry, status, body["error"])
	}
	return body, nil
}

// PatchRegistry merges properties into a registry through ARM.
func (s *Session) PatchRegistry(ctx context.Context, registry string, properties map[string]any) error {
	status, body, err := s.ARM(ctx, http.MethodPatch, s.RegistryPath(registry), map[string]any{"properties": properties})
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusCreated { // ACR answers 200 (a PATCH it has done)
		return fmt.Errorf("PATCH %s: %d %v", registry, status, body["error"])
	}
	return nil
}

// Prop reads a nested value of an ARM body ("properties", "networkRuleSet", "defaultAction").
func Prop(body map[string]any, path ...string) any {
	var cur any = body
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	return cur
}

// AdminAuth reads the registry's admin credentials through ARM (listCredentials).
func (s *Session) AdminAuth(ctx context.Context, registry string) (authn.Authenticator, error) {
	status, body, err := s.ARM(ctx, http.MethodPost, s.RegistryPath(registry)+"/listCredentials", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("listCredentials: %d %v", status, body["error"])
	}
	pw, _ := body["passwords"].([]any)
	if len(pw) == 0 {
		return nil, errors.New("listCredentials returned no password")
	}
	user, _ := body["username"].(string)
	pass, _ := pw[0].(map[string]any)["value"].(string)
	return &authn.Basic{Username: user, Password: pass}, nil
}

// LoginServer reads a registry's login server through ARM.
func (s *Session) LoginServer(ctx context.Context, registry string) (string, error) {
	body, err := s.Registry(ctx, registry)
	if err != nil {
		return "", err
	}
	ls, _ := Prop(body, "properties", "loginServer").(string)
	return ls, nil
}

// Push pushes a small random image to ref and returns its digest.
func (s *Session) Push(ctx context.Context, ref string, auth authn.Authenticator) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := random.Image(1024, 1)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(s.client.Transport)); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// Pull pulls ref (manifest, config and layers, digests verified) and returns its digest.
func (s *Session) Pull(ctx context.Context, ref string, auth authn.Authenticator) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(s.client.Transport))
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, err
		}
	}
	return img.Digest()
}

// RegistryError extracts the registry's error code and message from a client error.
func RegistryError(err error) (status int, code, message string) {
	var te *transport.Error
	if errors.As(err, &te) {
		status = te.StatusCode
		if len(te.Errors) > 0 {
			code, message = string(te.Errors[0].Code), te.Errors[0].Message
		}
	}
	return status, code, message
}

// ImportImage starts registries/importImage and follows its Location to the outcome: nil
// when the import succeeded, else ARM's error.
func (s *Session) ImportImage(ctx context.Context, registry string, body map[string]any) (string, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Emulator+s.RegistryPath(registry)+"/importImage?api-version=2025-11-01", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusAccepted || loc == "" {
		return "", fmt.Errorf("importImage: %d", res.StatusCode)
	}
	path := loc[strings.Index(loc, "/subscriptions"):]
	status, out, err := s.ARM(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		e, _ := out["error"].(map[string]any)
		return "", fmt.Errorf("%v: %v", e["code"], e["message"])
	}
	return "operation succeeded", nil
}

// Delete deletes the manifest ref (by digest) names, with its tags.
func (s *Session) Delete(ctx context.Context, ref string, auth authn.Authenticator) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	return remote.Delete(r, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(s.client.Transport))
}
