package token

import (
	"encoding/json"
	"sync"
	"time"
)

// mintCache reuses an access token for the same registry, caller and granted access while it
// has more than half its lifetime left. Signing (RSA) is most of a token request's cost, and a
// pull asks for the same token again and again; permissions are still evaluated per request,
// so a role change is reflected at once (the granted access is part of the key).
type mintCache struct {
	mu      sync.Mutex
	entries map[string]cachedToken
	max     int
}

type cachedToken struct {
	token     string
	reuseTill time.Time
}

func newMintCache(max int) *mintCache {
	return &mintCache{entries: map[string]cachedToken{}, max: max}
}

func cacheKey(c *claims) string {
	b, _ := json.Marshal([]any{c.AUD, c.Sub, c.AppID, c.Tenant, c.GrantType, c.Caller, c.OID, c.Access})
	return string(b)
}

func (m *mintCache) get(key string, now time.Time) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.reuseTill) {
		return "", false
	}
	return e.token, true
}

func (m *mintCache) put(key, token string, now time.Time, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.max {
		m.entries = map[string]cachedToken{} // bounded memory; a cold cache only costs signatures
	}
	m.entries[key] = cachedToken{token: token, reuseTill: now.Add(ttl / 2)}
}
