package arm

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries/tokens: a user name (the token's name) and up to two
// passwords with the permissions of one scope map; docker login with them works on the data
// plane (emulator/token). As the az CLI's recording shows (test_repository_token_create,
// 2020-11-01-preview): a PUT is 201 with an Azure-AsyncOperation, a token starts without
// passwords ("credentials":{"passwords":[]}), and passwords are made by the registry's
// generateCredentials, which answers 200 with the password values, the only time they are
// shown. A PATCH naming credentials.passwords keeps only the passwords it names (how az acr
// token credential delete and the azurerm provider remove one). Refusals' texts UNCONFIRMED.

const tokenType = registryType + "/tokens"

func (a *api) tokens() *Kind[store.Token] {
	return &Kind[store.Token]{Type: tokenType, Actions: crud(tokenType), LRO: Async,
		Get:      func(c *Call) (*store.Token, error) { return a.cfg.Store.GetToken(c.Registry().Name, c.ID.Name()) },
		List:     func(c *Call) ([]*store.Token, error) { return a.cfg.Store.ListTokens(c.Registry().Name) },
		Decode:   a.decodeToken,
		Validate: a.validateToken,
		Save: func(c *Call, old, next *store.Token) error {
			next.System = touch(next.System, c.Caller, old == nil)
			return a.cfg.Store.PutToken(next)
		},
		Delete:   func(c *Call, t *store.Token) error { return a.cfg.Store.DeleteToken(t.Registry, t.Name) },
		JSON:     func(c *Call, t *store.Token) any { return tokenJSON(c.Registry(), t) },
		NotFound: childNotFound,
	}
}

type tokenBody struct {
	Properties *struct {
		ScopeMapID  *string `json:"scopeMapId"`
		Status      *string `json:"status"`
		Credentials *struct {
			Certificates *[]certificateBody `json:"certificates"`
			Passwords    *[]struct {
				Name string `json:"name"`
			} `json:"passwords"`
		} `json:"credentials"`
	} `json:"properties"`
}

type certificateBody struct {
	Name                  string `json:"name"`
	EncodedPemCertificate string `json:"encodedPemCertificate"`
}

// decodeToken: a PUT gives the scope map (required on create) and the status (enabled unless
// disabled); a PATCH changes what it names.
func (a *api) decodeToken(c *Call, old *store.Token, patch bool) (*store.Token, error) {
	var b tokenBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	var next *store.Token
	if old == nil {
		if !tokenNameOK(c.ID.Name()) {
			return nil, invalidChildName(c.ID.Name())
		}
		next = &store.Token{Registry: c.Registry().Name, Name: c.ID.Name(), CreatedAt: time.Now().UTC(), Enabled: true}
	} else {
		next = old.Copy()
	}
	p := b.Properties
	if p == nil {
		if old == nil {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'properties.scopeMapId' is required.")
		}
		return next, nil
	}
	switch {
	case p.ScopeMapID != nil:
		next.ScopeMapID = *p.ScopeMapID
	case old == nil:
		return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'properties.scopeMapId' is required.")
	}
	switch {
	case p.Status != nil:
		v, err := enumValue("properties.status", *p.Status, "enabled", "disabled")
		if err != nil {
			return nil, err
		}
		next.Enabled = v == "enabled"
	case !patch:
		next.Enabled = true
	}
	if cr := p.Credentials; cr != nil {
		if cr.Passwords != nil {
			keep := map[string]bool{}
			for _, pw := range *cr.Passwords {
				name, err := enumValue("properties.credentials.passwords.name", pw.Name, "password1", "password2")
				if err != nil {
					return nil, err
				}
				keep[name] = true
			}
			next.Passwords = slices.DeleteFunc(next.Passwords, func(pw store.TokenPassword) bool { return !keep[pw.Name] })
		}
		if cr.Certificates != nil {
			certs, err := decodeCertificates(*cr.Certificates, next.Certificates)
			if err != nil {
				return nil, err
			}
			next.Certificates = certs
		}
	}
	return next, nil
}

// validateToken requires the scope map to be one of this registry's (system-defined ones
// included) and bounds how many tokens a registry holds.
func (a *api) validateToken(c *Call, old, next *store.Token) error {
	reg := c.Registry()
	name, err := a.scopeMapOf(reg, next.ScopeMapID)
	if err != nil {
		return err
	}
	next.ScopeMap = name
	if old != nil {
		return nil
	}
	ts, err := a.cfg.Store.ListTokens(reg.Name)
	if err != nil {
		return err
	}
	return withinTierLimit(reg, len(ts), "tokens")
}

// scopeMapOf resolves a token's scopeMapId to the name of an existing scope map of reg.
func (a *api) scopeMapOf(reg *store.Registry, id string) (string, error) {
	notFound := armError(http.StatusBadRequest, "ScopeMapNotFound", "The scope map '"+id+"' was not found in the registry '"+reg.Name+"'.")
	sid, err := armid.Parse(id)
	if err != nil || sid.Collection() || sid.Key() != strings.ToLower(scopeMapType) || !strings.EqualFold(sid.Parent().String(), reg.ID) {
		return "", notFound
	}
	name := sid.Name()
	if _, ok := rbac.BuiltInScopeMap(name); ok {
		return name, nil
	}
	m, err := a.cfg.Store.GetScopeMap(reg.Name, name)
	if err != nil {
		return "", err
	}
	if m == nil {
		return "", notFound
	}
	return m.Name, nil
}

// tokenJSON writes a token; its credentials have certificates only when it has some, as the
// recordings write a token without ("credentials":{"passwords":[]}).
func tokenJSON(reg *store.Registry, t *store.Token) map[string]any {
	creds := map[string]any{"passwords": passwordsJSON(t.Passwords, nil)}
	if len(t.Certificates) > 0 {
		creds["certificates"] = certificatesJSON(t.Certificates)
	}
	return map[string]any{"type": tokenType, "id": reg.ID + "/tokens/" + t.Name, "name": t.Name, "systemData": systemDataJSON(t.System),
		"properties": map[string]any{"creationDate": armTime(t.CreatedAt), "provisioningState": "Succeeded", "scopeMapId": t.ScopeMapID,
			"credentials": creds, "status": status(t.Enabled, "enabled", "disabled")}}
}

// passwordsJSON writes a token's passwords; a value only for the names in reveal (the
// passwords generateCredentials just made).
func passwordsJSON(pws []store.TokenPassword, reveal map[string]bool) []map[string]string {
	out := []map[string]string{}
	for _, pw := range pws {
		m := map[string]string{"creationTime": armTime(pw.CreatedAt), "name": pw.Name}
		if !pw.Expiry.IsZero() {
			m["expiry"] = expiryTime(pw.Expiry)
		}
		if reveal[pw.Name] {
			m["value"] = pw.Value
		}
		out = append(out, m)
	}
	return out
}

// expiryTime is how ACR writes an expiry: the time given, fraction trimmed, +00:00
// ("2100-12-31T12:59:59+00:00" for 2100-12-31T12:59:59.000Z).
func expiryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.9999999+00:00") }

type generateBody struct {
	TokenID *string `json:"tokenId"`
	Expiry  *string `json:"expiry"`
	Name    *string `json:"name"`
}

// generateCredentials serves POST …/registries/{name}/generateCredentials: new values for
// password1, password2 or (no name) both, with an expiry when given. The answer lists the
// token's passwords with the value of each one made now (the azurerm provider reads a
// password's value at its index in this list).
func (a *api) generateCredentials(c *Call, reg *store.Registry) error {
	var b generateBody
	if err := c.Decode(&b); err != nil {
		return err
	}
	if b.TokenID == nil || *b.TokenID == "" {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'tokenId' is required.")
	}
	tid, err := armid.Parse(*b.TokenID)
	if err != nil || tid.Collection() || tid.Key() != strings.ToLower(tokenType) || !strings.EqualFold(tid.Parent().String(), reg.ID) {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The tokenId '"+*b.TokenID+"' is not a token of the registry '"+reg.Name+"'.")
	}
	tok, err := a.cfg.Store.GetToken(reg.Name, tid.Name())
	if err != nil {
		return err
	}
	if tok == nil {
		return armError(http.StatusNotFound, "ResourceNotFound", "The resource "+tid.Name()+" could not be found.")
	}
	names := []string{"password1", "password2"}
	if b.Name != nil && *b.Name != "" {
		n, err := enumValue("name", *b.Name, "password1", "password2")
		if err != nil {
			return err
		}
		names = []string{n}
	}
	now := time.Now().UTC()
	var expiry time.Time
	if b.Expiry != nil && *b.Expiry != "" {
		if expiry, err = time.Parse(time.RFC3339Nano, *b.Expiry); err != nil {
			return armError(http.StatusBadRequest, "InvalidRequestContent", "The expiry '"+*b.Expiry+"' is not a valid date and time (RFC 3339).")
		}
		if !expiry.After(now) {
			return armError(http.StatusBadRequest, "InvalidRequestContent", "The expiry '"+*b.Expiry+"' is in the past.")
		}
	}
	next, made := tok.Copy(), map[string]bool{}
	for _, n := range names {
		next.Passwords = slices.DeleteFunc(next.Passwords, func(pw store.TokenPassword) bool { return pw.Name == n })
		next.Passwords = append(next.Passwords, store.TokenPassword{Name: n, Value: newPassword(), CreatedAt: now, Expiry: expiry})
		made[n] = true
	}
	slices.SortFunc(next.Passwords, func(x, y store.TokenPassword) int { return strings.Compare(x.Name, y.Name) })
	next.System = touch(next.System, c.Caller, false)
	if err := a.cfg.Store.PutToken(next); err != nil {
		return err
	}
	a.cfg.Logger.Info("token passwords generated", "registry", reg.Name, "token", tok.Name, "passwords", names)
	skipPollDelay(c) // an LRO for the SDKs, answered at once
	return c.Reply(http.StatusOK, map[string]any{"username": next.Name, "passwords": passwordsJSON(next.Passwords, made)})
}

// tokenUsages are listUsages' rows for scope maps and tokens.
func (a *api) tokenUsages(reg *store.Registry) []any {
	ms, _ := a.cfg.Store.ListScopeMaps(reg.Name)
	ts, _ := a.cfg.Store.ListTokens(reg.Name)
	return []any{
		map[string]any{"name": "ScopeMaps", "limit": rbac.MaxPerRegistry(reg.SKU), "currentValue": len(ms), "unit": "Count"},
		map[string]any{"name": "Tokens", "limit": rbac.MaxPerRegistry(reg.SKU), "currentValue": len(ts), "unit": "Count"},
	}
}
