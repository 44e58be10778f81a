package cache

import (
	"net/url"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Credential sets name Key Vault secrets, which the emulator does not serve: their values
// come from the world file (keyVaultSecrets, by secret identifier), and the set's
// system-assigned identity may read them when it holds a role assignment at the scope of each
// secret's vault (any role: UNCONFIRMED, Azure needs the secrets get permission, e.g. Key
// Vault Secrets User).

// SecretsReadable reports whether role assignments ras (a principal's) reach the vault of
// every secret identifier.
func SecretsReadable(ras []*store.RoleAssignment, secretIDs ...string) bool {
	for _, s := range secretIDs {
		u, err := url.Parse(s)
		if err != nil {
			return false
		}
		vault, _, _ := strings.Cut(u.Host, ".")
		if !slices.ContainsFunc(ras, func(ra *store.RoleAssignment) bool {
			return strings.HasSuffix(strings.ToLower(ra.Scope), "/providers/microsoft.keyvault/vaults/"+strings.ToLower(vault))
		}) {
			return false
		}
	}
	return true
}

// SecretKey is the form secret identifiers are looked up by: lower-case host, no trailing
// slash, no version ("https://v.vault.azure.net/secrets/name").
func SecretKey(id string) string {
	u, err := url.Parse(strings.TrimSpace(id))
	if err != nil {
		return id
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) > 2 {
		segs = segs[:2]
	}
	return "https://" + strings.ToLower(u.Host) + "/" + strings.Join(segs, "/")
}

// credentials resolves a rule's credential set to the upstream's username and password;
// anonymous when the rule names none.
func (c *Cache) credentials(registry string, rule *store.CacheRule) (authn.Authenticator, error) {
	if rule.CredentialSetID == "" {
		return authn.Anonymous, nil
	}
	name := rule.CredentialSetID[strings.LastIndex(rule.CredentialSetID, "/")+1:]
	set, err := c.cfg.Store.GetCredentialSet(registry, name)
	if err != nil {
		return nil, err
	}
	if set == nil || len(set.Credentials) == 0 {
		return nil, errCredentialSet(rule.Name, name, "it does not exist")
	}
	cred := set.Credentials[0]
	ras, err := c.cfg.Store.RoleAssignmentsOf(set.PrincipalID)
	if err != nil {
		return nil, err
	}
	if !SecretsReadable(ras, cred.UsernameSecretID, cred.PasswordSecretID) {
		return nil, errCredentialSet(rule.Name, set.Name, "its identity has no role assignment on the key vault of its secrets")
	}
	var values [2]string
	for i, id := range []string{cred.UsernameSecretID, cred.PasswordSecretID} {
		v, ok := c.cfg.Secrets[SecretKey(id)]
		if !ok {
			return nil, errCredentialSet(rule.Name, set.Name, "the secret '"+id+"' was not found in the key vault")
		}
		values[i] = v
	}
	return &authn.Basic{Username: values[0], Password: values[1]}, nil
}
