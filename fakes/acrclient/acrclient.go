// Package acrclient is how the simulated Azure services use a registry: exactly as a real
// service does, with no shortcut. It gets an Entra token for its managed identity from the
// managed-identity endpoint, trades it at /oauth2/exchange for an ACR refresh token, and pulls
// or pushes with go-containerregistry, which asks /oauth2/token for access tokens. Every
// request goes through the transport it is given (the service's origin).
package acrclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Identity is a managed identity as a compute resource holds it.
type Identity struct {
	// Endpoint is the managed-identity endpoint (App Service protocol), e.g.
	// https://localhost:8443/msi/token; Header is the resource's X-IDENTITY-HEADER.
	Endpoint string
	Header   string
	// ClientID selects a user-assigned identity; "" means the system-assigned one.
	ClientID string
}

// Client acts on registries for one identity, over one transport.
type Client struct {
	Transport http.RoundTripper
	Identity  Identity
}

func (c *Client) http() *http.Client { return &http.Client{Transport: c.Transport} }

// entraToken asks the managed-identity endpoint for a token for the ACR audience.
func (c *Client) entraToken(ctx context.Context) (string, error) {
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {"https://containerregistry.azure.net"}}
	if c.Identity.ClientID != "" {
		q.Set("client_id", c.Identity.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Identity.Endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-IDENTITY-HEADER", c.Identity.Header)
	res, err := c.http().Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("managed identity token: %d %s", res.StatusCode, body.Error)
	}
	return body.AccessToken, nil
}

// Login returns an authenticator for loginServer holding an ACR refresh token.
func (c *Client) Login(ctx context.Context, loginServer string) (authn.Authenticator, error) {
	entra, err := c.entraToken(ctx)
	if err != nil {
		return nil, err
	}
	return c.Exchange(ctx, loginServer, entra)
}

// Exchange trades an Entra access token at loginServer's /oauth2/exchange for an ACR refresh
// token, and returns an authenticator holding it.
func (c *Client) Exchange(ctx context.Context, loginServer, entra string) (authn.Authenticator, error) {
	form := url.Values{"grant_type": {"access_token"}, "service": {loginServer}, "access_token": {entra}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+loginServer+"/oauth2/exchange", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		code, msg := registryMessage(b)
		return nil, &Error{Status: res.StatusCode, Code: code, Message: msg, Step: "exchange"}
	}
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.RefreshToken == "" {
		return nil, fmt.Errorf("exchange returned no refresh token")
	}
	return authn.FromConfig(authn.AuthConfig{Username: "00000000-0000-0000-0000-000000000000", IdentityToken: body.RefreshToken}), nil
}

// Pull fetches an image (manifest, config and every layer, each verified against its digest).
func (c *Client) Pull(ctx context.Context, ref string) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	auth, err := c.Login(ctx, r.Context().RegistryStr())
	if err != nil {
		return v1.Hash{}, err
	}
	return c.pull(ctx, r, auth)
}

// PullWith fetches an image with the given credentials (authn.Anonymous for none).
func (c *Client) PullWith(ctx context.Context, ref string, auth authn.Authenticator) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	return c.pull(ctx, r, auth)
}

func (c *Client) pull(ctx context.Context, r name.Reference, auth authn.Authenticator) (v1.Hash, error) {
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(c.Transport))
	if err != nil {
		return v1.Hash{}, Wrap(err, "pull")
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, Wrap(err, "pull")
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, Wrap(err, "pull")
		}
		_, err = io.Copy(io.Discard, rc) // the reader fails on a digest mismatch
		rc.Close()
		if err != nil {
			return v1.Hash{}, Wrap(err, "pull")
		}
	}
	return img.Digest()
}

// Error is a registry refusal, with the registry's own status and message.
type Error struct {
	Status  int
	Code    string
	Message string
	Step    string // exchange, pull...
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s: %d %s: %s", e.Step, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %d %s", e.Step, e.Status, e.Message)
}

// Wrap turns a go-containerregistry error carrying a registry refusal into an *Error.
func Wrap(err error, step string) error {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return &Error{Status: te.StatusCode, Code: string(te.Errors[0].Code), Message: te.Errors[0].Message, Step: step}
	}
	return err
}

// Message is a registry refusal as docker prints it ("denied: client with IP ..."): the
// registry's code in lower case and its message; any other error's own text.
func Message(err error) string {
	var e *Error
	if errors.As(Wrap(err, ""), &e) {
		if e.Code == "" {
			return e.Message
		}
		return strings.ToLower(e.Code) + ": " + e.Message
	}
	return err.Error()
}

// registryMessage reads the registry's error envelope (code, message), or the raw body.
func registryMessage(b []byte) (string, string) {
	var env struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Errors) > 0 {
		return env.Errors[0].Code, env.Errors[0].Message
	}
	return "", strings.TrimSpace(string(b))
}
