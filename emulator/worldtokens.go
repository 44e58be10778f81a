package emulator

import (
	"fmt"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The world's scope maps and tokens are stored as ARM stores them (emulator/arm scopemaps.go,
// tokens.go), after the world file's checks, which are ARM's (emulator/world tokens.go). Reset
// and snapshots keep them with the rest of the store.

// createWorldTokens stores every scope map and token the world declares.
func (e *Emulator) createWorldTokens() error {
	now := time.Now().UTC()
	for _, wr := range e.world.Registries {
		if len(wr.ScopeMaps) == 0 && len(wr.Tokens) == 0 {
			continue
		}
		reg, err := e.st.GetRegistry(wr.Name)
		if err != nil {
			return err
		}
		if reg == nil {
			return fmt.Errorf("world tokens: no registry %q", wr.Name)
		}
		for _, m := range wr.ScopeMaps {
			if err := e.st.PutScopeMap(&store.ScopeMap{Registry: reg.Name, Name: m.Name, Description: m.Description,
				Actions: m.Actions, CreatedAt: now}); err != nil {
				return err
			}
		}
		for _, t := range wr.Tokens {
			scopeMap := t.ScopeMap
			if d, ok := rbac.BuiltInScopeMap(scopeMap); ok {
				scopeMap = d.Name
			}
			tok := &store.Token{Registry: reg.Name, Name: t.Name, ScopeMapID: reg.ID + "/scopeMaps/" + scopeMap, ScopeMap: scopeMap,
				Enabled: t.Status != "disabled", CreatedAt: now}
			for _, pw := range []store.TokenPassword{{Name: "password1", Value: t.Password1}, {Name: "password2", Value: t.Password2}} {
				if pw.Value != "" {
					pw.CreatedAt = now
					tok.Passwords = append(tok.Passwords, pw)
				}
			}
			if err := e.st.PutToken(tok); err != nil {
				return err
			}
		}
		e.log.Info("the world's scope maps and tokens", "registry", reg.Name, "scopeMaps", len(wr.ScopeMaps), "tokens", len(wr.Tokens))
	}
	return nil
}
