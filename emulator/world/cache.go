package world

import (
	"fmt"
	"net/url"
	"strings"
)

// The artifact cache in a world: Key Vault secret values (Key Vault itself is not emulated),
// and a registry's credential sets and cache rules, stored as ARM stores them.

// KeyVaultSecret is a secret value by its identifier, what a credential set names:
// https://{vault}.vault.azure.net/secrets/{name} (a version in a set's identifier is ignored).
type KeyVaultSecret struct {
	ID    string `json:"id" yaml:"id"`
	Value string `json:"value" yaml:"value"`
}

// CredentialSet is a registry's credential set (registries/credentialSets): an upstream login
// server and the Key Vault secrets of its username and password. A world's set may read its
// secrets from the start (its identity gets Key Vault Secrets User on each secret's vault).
type CredentialSet struct {
	Name                     string `json:"name" yaml:"name"`
	LoginServer              string `json:"loginServer" yaml:"loginServer"`
	UsernameSecretIdentifier string `json:"usernameSecretIdentifier" yaml:"usernameSecretIdentifier"`
	PasswordSecretIdentifier string `json:"passwordSecretIdentifier" yaml:"passwordSecretIdentifier"`
	// PrincipalID is its identity's object id (default: derived from the registry and name).
	PrincipalID string `json:"principalId,omitempty" yaml:"principalId,omitempty"`
}

// CacheRule is a registry's cache rule (registries/cacheRules): the first pull of
// targetRepository reads sourceRepository (host/path; "*" wildcards as ACR allows them).
type CacheRule struct {
	Name             string `json:"name" yaml:"name"`
	SourceRepository string `json:"sourceRepository" yaml:"sourceRepository"`
	TargetRepository string `json:"targetRepository" yaml:"targetRepository"`
	// CredentialSet names one of the registry's credential sets ("": anonymous upstream pulls).
	CredentialSet string `json:"credentialSet,omitempty" yaml:"credentialSet,omitempty"`
}

// maxCacheEntries bounds a registry's declared rules and sets (ACR allows 1000 rules).
const maxCacheEntries = 1000

// KeyVaultSecretID reports whether s is https://{vault}.vault.azure.net/secrets/{name}[/{version}].
func KeyVaultSecretID(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || !strings.Contains(u.Host, ".vault.") {
		return false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	return len(segs) >= 2 && len(segs) <= 3 && segs[0] == "secrets" && segs[1] != ""
}

func (w *World) validateSecrets(p *problems) {
	seen := map[string]bool{}
	for i, s := range w.KeyVaultSecrets {
		f := fmt.Sprintf("keyVaultSecrets[%d]", i)
		if !KeyVaultSecretID(s.ID) {
			p.add(f+".id", "%q is not a Key Vault secret identifier (https://{vault}.vault.azure.net/secrets/{name})", s.ID)
		}
		if seen[strings.ToLower(s.ID)] {
			p.add(f+".id", "%q is defined twice", s.ID)
		}
		seen[strings.ToLower(s.ID)] = true
		if len(s.Value) > 25*1024 {
			p.add(f+".value", "at most 25 KiB, as Key Vault allows")
		}
	}
}

func validateCache(p *problems, f string, r *Registry) {
	if len(r.CacheRules) > maxCacheEntries || len(r.CredentialSets) > maxCacheEntries {
		p.add(f, "at most %d cache rules and %d credential sets per registry", maxCacheEntries, maxCacheEntries)
		return
	}
	sets := map[string]bool{}
	for i, s := range r.CredentialSets {
		sf := fmt.Sprintf("%s.credentialSets[%d]", f, i)
		switch {
		case !taskNameRE.MatchString(s.Name):
			p.add(sf+".name", "%q must be 5-50 letters, digits, hyphens and underscores", s.Name)
		case sets[strings.ToLower(s.Name)]:
			p.add(sf+".name", "%q is defined twice", s.Name)
		}
		sets[strings.ToLower(s.Name)] = true
		if s.LoginServer == "" || strings.ContainsAny(s.LoginServer, "/ ") {
			p.add(sf+".loginServer", "%q is not a registry's login server", s.LoginServer)
		}
		for _, id := range [][2]string{{"usernameSecretIdentifier", s.UsernameSecretIdentifier}, {"passwordSecretIdentifier", s.PasswordSecretIdentifier}} {
			if !KeyVaultSecretID(id[1]) {
				p.add(sf+"."+id[0], "%q is not a Key Vault secret identifier (https://{vault}.vault.azure.net/secrets/{name})", id[1])
			}
		}
	}
	rules, targets := map[string]bool{}, map[string]bool{}
	for i, c := range r.CacheRules {
		cf := fmt.Sprintf("%s.cacheRules[%d]", f, i)
		switch {
		case !taskNameRE.MatchString(c.Name):
			p.add(cf+".name", "%q must be 5-50 letters, digits, hyphens and underscores", c.Name)
		case rules[strings.ToLower(c.Name)]:
			p.add(cf+".name", "%q is defined twice", c.Name)
		}
		rules[strings.ToLower(c.Name)] = true
		if c.SourceRepository == "" || !strings.Contains(c.SourceRepository, "/") {
			p.add(cf+".sourceRepository", "%q is not host/repository", c.SourceRepository)
		}
		if strings.HasSuffix(c.SourceRepository, "*") != strings.HasSuffix(c.TargetRepository, "*") {
			p.add(cf, "a wildcard rule needs wildcards in both sourceRepository and targetRepository")
		}
		if c.TargetRepository == "" || targets[c.TargetRepository] {
			p.add(cf+".targetRepository", "%q is empty or cached into twice", c.TargetRepository)
		}
		targets[c.TargetRepository] = true
		if c.CredentialSet != "" && !sets[strings.ToLower(c.CredentialSet)] {
			p.add(cf+".credentialSet", "%q is not a credential set of this registry", c.CredentialSet)
		}
	}
}
