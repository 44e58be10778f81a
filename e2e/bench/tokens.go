package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// TokenRow is the latency of one kind of token request, as its client sees it over TLS.
type TokenRow struct {
	Grant    string // what the client sends
	Cached   bool   // the same grant again (the access token is reused) or a new one (signed)
	N        int
	P50, P99 time.Duration
}

// tokenCase is one kind of token request; req(i) builds the i-th, distinct scopes when fresh.
type tokenCase struct {
	grant string
	req   func(i int, fresh bool) (*http.Request, error)
}

// Tokens times the ACR token service per grant type on the emulator's TLS listener: the Basic
// GET docker and crane send, the password and refresh_token POSTs of the Azure SDKs and the az
// CLI, and /oauth2/exchange of an Entra token. "cached" repeats one grant (the access token is
// reused while it has more than half its life); "fresh" asks for a new scope each time, so each
// answer is signed. Permissions are evaluated on every request either way.
func Tokens(r *Registry, n int) ([]TokenRow, error) {
	if r.Emulator == nil {
		return nil, fmt.Errorf("%s has no token service", r.Kind)
	}
	base := r.Emulator.HTTPSURL()
	host := strings.TrimPrefix(base, "https://")
	c := &http.Client{Transport: r.Target.Transport}
	user, pass := r.Emulator.AdminCredentials(r.Emulator.Registries()[0].Name)
	w := r.Emulator.World()
	sp := w.ServicePrincipals[0]
	entra, err := postForm(c, base+"/"+w.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sp.ClientID}, "client_secret": {sp.Secret}, "scope": {"https://containerregistry.azure.net/.default"}}, "access_token")
	if err != nil {
		return nil, fmt.Errorf("entra token: %w", err)
	}
	exchange := url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {entra}}
	refresh, err := postForm(c, base+"/oauth2/exchange", exchange, "refresh_token")
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	scope := func(i int, fresh bool) string {
		if fresh {
			return fmt.Sprintf("repository:tok%d:pull", i)
		}
		return "repository:tok:pull"
	}
	form := func(u string, v url.Values) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return req, err
	}
	cases := []tokenCase{
		{"GET /oauth2/token, Basic admin (docker, crane)", func(i int, fresh bool) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, base+"/oauth2/token?service="+host+"&scope="+scope(i, fresh), nil)
			if req != nil {
				req.SetBasicAuth(user, pass)
			}
			return req, err
		}},
		{"POST /oauth2/token grant_type=password", func(i int, fresh bool) (*http.Request, error) {
			return form(base+"/oauth2/token", url.Values{"grant_type": {"password"}, "service": {host}, "scope": {scope(i, fresh)},
				"username": {user}, "password": {pass}})
		}},
		{"POST /oauth2/token grant_type=refresh_token", func(i int, fresh bool) (*http.Request, error) {
			return form(base+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {host}, "scope": {scope(i, fresh)},
				"refresh_token": {refresh}})
		}},
		{"POST /oauth2/exchange (Entra token)", func(i int, fresh bool) (*http.Request, error) {
			return form(base+"/oauth2/exchange", exchange)
		}},
	}
	var out []TokenRow
	for _, tc := range cases {
		for _, fresh := range []bool{false, true} {
			if tc.grant == cases[3].grant && !fresh {
				continue // every exchange mints a refresh token
			}
			row := TokenRow{Grant: tc.grant, Cached: !fresh, N: n}
			var lat []time.Duration
			for i := -1; i < n; i++ { // i = -1 warms the connection and the cache
				req, err := tc.req(i, fresh)
				if err != nil {
					return nil, err
				}
				t0 := time.Now()
				res, err := c.Do(req)
				if err != nil {
					return nil, err
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				d := time.Since(t0)
				if res.StatusCode != http.StatusOK {
					return nil, fmt.Errorf("%s: status %d", tc.grant, res.StatusCode)
				}
				if i >= 0 {
					lat = append(lat, d)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			row.P50, row.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
			out = append(out, row)
		}
	}
	return out, nil
}

func postForm(c *http.Client, u string, v url.Values, field string) (string, error) {
	res, err := c.PostForm(u, v)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return "", err
	}
	s, _ := body[field].(string)
	if res.StatusCode != http.StatusOK || s == "" {
		return "", fmt.Errorf("status %d, no %s: %v", res.StatusCode, field, body)
	}
	return s, nil
}
