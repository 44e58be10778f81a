package arm

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Linked authorization: ARM checks, besides the action on the resource written, an action on
// each other resource the write links to. Attaching a user-assigned identity to a resource
// (a registry, an ACR task, a container group, a workspace, a web app) needs assign/action on
// the identity (Managed Identity Operator, Contributor, Owner), or ARM refuses the write with
// 403 LinkedAuthorizationFailed.

type callerKey struct{}

// withCaller attaches the ARM caller to a request handed to a Delegate.
func withCaller(ctx context.Context, caller *Identity) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// CallerFrom returns the ARM caller of a request the router handed to a Delegate (nil when
// there is none: the emulator's own requests, such as a world file's tasks).
func CallerFrom(ctx context.Context) *Identity {
	c, _ := ctx.Value(callerKey{}).(*Identity)
	return c
}

// CheckAssignIdentities requires the caller to hold assign/action on each user-assigned
// identity that the write of resourceID (of resourceType) attaches and the resource did not
// hold (had), as ARM's linked authorization does. The refusal names the identities it lacks,
// in Azure's text.
func CheckAssignIdentities(st *store.Store, caller *Identity, resourceType, resourceID string, had, next []string) error {
	var missing []string
	for _, id := range newlyAttached(had, next) {
		ok, err := allowed(st, caller, id, assignIdentity)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return linkedAuthorizationFailed(caller, resourceType+"/write", resourceID, assignIdentity, missing)
}

// linkedAuthorizationFailed is ARM's 403 for a caller allowed action on scope but not
// linkedAction on the linked scopes, in Azure's text (captures in Azure/aad-pod-identity#443
// and #613, MicrosoftDocs/azure-docs#33442 for importImage, and a 2024 Update-AzVM one whose
// newer form reads "action(s)" and "(respectively)").
func linkedAuthorizationFailed(caller *Identity, action, scope, linkedAction string, linked []string) *Error {
	return armError(http.StatusForbidden, "LinkedAuthorizationFailed", "The client '"+caller.ObjectID+"' with object id '"+caller.ObjectID+
		"' has permission to perform action '"+action+"' on scope '"+scope+"'; however, it does not have permission to perform action(s) '"+
		linkedAction+"' on the linked scope(s) '"+strings.Join(linked, ",")+"' (respectively) or the linked scope(s) are invalid.")
}

// checkLinked requires the caller, allowed action on scope, to hold linkedAction on linked.
func (a *api) checkLinked(c *Call, action, scope, linkedAction, linked string) error {
	ok, err := allowed(a.cfg.Store, c.Caller, linked, linkedAction)
	if err != nil || ok {
		return err
	}
	return linkedAuthorizationFailed(c.Caller, action, scope, linkedAction, []string{linked})
}

// IdentityNotFound is ARM's refusal of a write naming a user-assigned identity that does not
// exist (the inner text is UNCONFIRMED).
func IdentityNotFound(resourceID, identityID string) *Error {
	return armError(http.StatusBadRequest, "FailedIdentityOperation", "Identity operation for resource '"+resourceID+
		"' failed with error 'Failed to perform resource identity operation. Status: 'NotFound'. The user-assigned identity '"+identityID+"' was not found.'.")
}

// allowed reports whether the caller may perform an ARM action on a scope.
func allowed(st *store.Store, caller *Identity, scope, action string) (bool, error) {
	stored, err := st.RoleAssignmentsOf(caller.ObjectID)
	if err != nil {
		return false, err
	}
	as := make([]rbac.Assignment, len(stored))
	for i, s := range stored {
		as[i] = rbac.Assignment{ID: s.ID, PrincipalID: s.PrincipalID, RoleDefinitionID: s.RoleDefinitionID, Scope: s.Scope, Condition: s.Condition}
	}
	return rbac.ControlAllowed(as, caller.ObjectID, scope, action), nil
}

// newlyAttached are the identities of next that old does not hold (any case).
func newlyAttached(old, next []string) []string {
	var out []string
	for _, id := range next {
		if !slices.ContainsFunc(old, func(o string) bool { return strings.EqualFold(o, id) }) {
			out = append(out, id)
		}
	}
	return out
}
