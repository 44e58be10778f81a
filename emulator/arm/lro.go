package arm

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
)

// Long-running operations. The emulator does the work before it answers, so every operation
// it hands out has already finished: the first poll gets the outcome, and the answers carry
// Retry-After: 0 so that pollers waiting on it (the azurerm provider's go-azure-sdk waits the
// initial Retry-After, 10 s by default, before its first poll) do not wait. The shapes follow
// ACR's recordings (azure-cli acr recordings: operationStatuses answers {"status":"Succeeded"})
// and the ARM RPC (https://github.com/Azure/azure-resource-manager-rpc, v1.0/Addendum.md: a
// 202 MUST include a Location header).

// LRO is how a Kind answers writes.
type LRO int

const (
	// Sync answers PUT with 201 (created) or 200 and the resource, DELETE with 200.
	Sync LRO = iota
	// Async is ACR's: PUT 201 (created) or 200, PATCH 201, each with the resource and an
	// Azure-AsyncOperation URL ({id}/operationStatuses/{type}-{guid}); DELETE 202 with a
	// Location URL of the same shape.
	Async
	// AsyncDelete is ARM's for resource groups: writes as Sync, DELETE 202 with a Location
	// URL (/subscriptions/{sub}/operationresults/{id}) whose final poll is an empty 200.
	AsyncDelete
	// AsyncPut is ACR's registries' up to 2025: PUT as Async, PATCH 200 and DELETE 200, done.
	AsyncPut
	// Done answers every write with 200 and the resource, a create too, and DELETE with 200:
	// ACR's scope maps, whose PUT is answered 200 without an operation to poll (azure-cli
	// recording test_repository_token_create; PATCH and DELETE are UNCONFIRMED).
	Done
	// AsyncLocation writes as Async; a DELETE is answered 202 with a JSON null and a Location
	// under locations/{location}/operationResults whose final poll is an empty 200: ACR's
	// replications (recording test_acr_create_replication, 2021-08-01-preview, the location the
	// replication's region, Call.opLocation).
	AsyncLocation
	// AsyncConnection is ACR's private endpoint connections' (recording
	// test_acr_with_private_endpoint, 2021-08-01-preview): every PUT 201 with an
	// Azure-AsyncOperation whose status names the resource ({"id","name","status"}), DELETE as
	// AsyncLocation's.
	AsyncConnection
	// AsyncUpdate answers a write of an existing resource, PUT or PATCH, 201 with an
	// Azure-AsyncOperation: ACR's registries at 2021-08-01-preview when the write changes their
	// identities or rotates their key (recordings test_acr_identity, test_acr_encryption_with_cmk).
	AsyncUpdate
)

const (
	headerAsync    = "Azure-AsyncOperation"
	headerLocation = "Location"
	// headerSkipPollDelay tells go-azure-sdk (the azurerm provider's SDK) that an answer needs
	// no wait before its outcome is checked: without it, that SDK waits a fixed 10 s before it
	// reads the provisioningState of a write answered at once (a scope map PUT, a
	// generateCredentials) and before it checks that a deleted resource is gone, whatever
	// Retry-After says. Azure does not send it; other clients ignore it.
	headerSkipPollDelay = "X-Go-Azure-Sdk-Skip-Polling-Delay"
	// maxOperations and operationTTL bound the keeper: pollers ask within seconds.
	maxOperations = 1000
	operationTTL  = time.Hour
)

// operation is a finished long-running operation, as its status URL reports it.
type operation struct {
	id     string // the last segment of its URL: "replications-<guid>"
	path   string // its status URL's path
	header string // headerAsync or headerLocation: how it is polled
	err    *Error // nil: succeeded
	final  any    // the body of a Location poll once done (nil: empty)
	// resource, when set, is the id an Azure-AsyncOperation status names beside its own name.
	resource string
	at       time.Time
}

// operations is the one keeper of operation statuses and results, pruned by age and count.
type operations struct {
	mu    sync.Mutex
	byID  map[string]*operation // by lowercase id
	order []*operation          // oldest first
	now   func() time.Time
}

func newOperations() *operations {
	return &operations{byID: map[string]*operation{}, now: time.Now}
}

// record keeps op, dropping the expired and the oldest beyond maxOperations.
func (o *operations) record(op *operation) *operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	op.at = o.now()
	drop := 0
	for drop < len(o.order) && (len(o.order)-drop >= maxOperations || op.at.Sub(o.order[drop].at) > operationTTL) {
		delete(o.byID, strings.ToLower(o.order[drop].id))
		drop++
	}
	o.order = append(o.order[drop:], op)
	o.byID[strings.ToLower(op.id)] = op
	return op
}

func (o *operations) get(id string) *operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byID[strings.ToLower(id)]
}

func (o *operations) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.order)
}

// newOp records an operation whose URL is base/<type>-<guid>.
func (o *operations) newOp(base, typ, header string, err *Error, final any) *operation {
	id := strings.ToLower(typ) + "-" + ids.NewGUID()
	return o.record(&operation{id: id, path: base + "/" + id, header: header, err: err, final: final})
}

// statusOf is ACR's operation on a resource, polled at {id}/operationStatuses (Azure-AsyncOperation).
func (o *operations) statusOf(c *Call, err *Error) *operation {
	return o.newOp(c.ID.String()+"/operationStatuses", lastType(c.ID), headerAsync, err, nil)
}

func lastType(id armid.ID) string {
	if len(id.Types) == 0 {
		return "operations"
	}
	return id.Types[len(id.Types)-1]
}

// accept writes an operation's headers: its URL under the header it is polled by, and
// Retry-After. It is the only writer of Azure-AsyncOperation, Location and Retry-After.
func (o *operations) accept(c *Call, op *operation) {
	h := c.W.Header()
	h.Set(op.header, "https://"+c.R.Host+op.path+"?api-version="+c.R.URL.Query().Get("api-version"))
	h.Set("Retry-After", "0")
}

// isOperationPoll recognizes the URLs the keeper hands out: …/operationStatuses/{id} and
// …/operationResults/{id}, under any resource or location, and agent pools'
// …/agentPoolsOperationResults/{id}/status.
func isOperationPoll(id armid.ID) bool { return operationID(id) != "" }

// operationID is the operation a poll URL names, "" for a path that is not one.
func operationID(id armid.ID) string {
	n := len(id.Types)
	switch {
	case n == 0:
		return ""
	case !id.Collection() && (strings.EqualFold(id.Types[n-1], "operationStatuses") || strings.EqualFold(id.Types[n-1], "operationResults")):
		return id.Name()
	case id.Collection() && n >= 2 && len(id.Names) == n-1 && strings.EqualFold(id.Types[n-1], "status") &&
		strings.HasSuffix(strings.ToLower(id.Types[n-2]), "operationresults"):
		return id.Names[n-2]
	}
	return ""
}

// poll answers an operation's URL: an Azure-AsyncOperation status is 200 with
// {"status":...} (and the error of a failed one); a Location is answered with the final body
// (200), or the operation's error with its own status.
func (o *operations) poll(c *Call) error {
	op := o.get(operationID(c.ID))
	if op == nil {
		return armError(http.StatusNotFound, "OperationNotFound", "The operation '"+operationID(c.ID)+"' was not found.")
	}
	if op.header == headerAsync {
		o.accept(c, op)
		body := map[string]any{"status": "Succeeded"}
		if op.err != nil {
			body = map[string]any{"status": "Failed", "error": map[string]string{"code": op.err.Code, "message": op.err.Message}}
		}
		if op.resource != "" {
			body["id"], body["name"] = op.resource, op.id
		}
		return c.Reply(http.StatusOK, body)
	}
	if op.err != nil {
		return op.err
	}
	if op.final == nil {
		c.W.WriteHeader(http.StatusOK)
		return nil
	}
	return c.Reply(http.StatusOK, op.final)
}

// replyWritten answers a PUT or PATCH that stored the resource body describes.
func (a *api) replyWritten(c *Call, mode LRO, created bool, body any) error {
	status := http.StatusOK
	patch := c.R.Method == http.MethodPatch
	if (created && mode != Done) || ((mode == Async || mode == AsyncLocation) && patch) || mode == AsyncConnection || mode == AsyncUpdate {
		status = http.StatusCreated
	}
	switch {
	case mode == Async || mode == AsyncLocation || mode == AsyncUpdate || (mode == AsyncPut && !patch):
		a.ops.accept(c, a.ops.statusOf(c, nil))
	case mode == AsyncConnection:
		op := a.ops.statusOf(c, nil)
		op.resource = c.ID.String()
		a.ops.accept(c, op)
	}
	skipPollDelay(c)
	return c.Reply(status, body)
}

// skipPollDelay marks an answer whose outcome is already final (see headerSkipPollDelay).
func skipPollDelay(c *Call) { c.W.Header().Set(headerSkipPollDelay, "true") }

// replyDeleted answers a DELETE that removed the resource.
func (a *api) replyDeleted(c *Call, mode LRO) error {
	var op *operation
	skipPollDelay(c)
	switch mode {
	case Sync, AsyncPut, Done:
		c.W.WriteHeader(http.StatusOK)
		return nil
	case Async:
		op = a.ops.newOp(c.ID.String()+"/operationStatuses", lastType(c.ID), headerLocation, nil, map[string]string{"status": "Succeeded"})
	case AsyncDelete:
		op = a.ops.newOp("/subscriptions/"+c.ID.Subscription+"/operationresults", lastType(c.ID), headerLocation, nil, nil)
	case AsyncLocation, AsyncConnection:
		loc := c.opLocation
		if loc == "" {
			loc = a.location(c.Registry())
		}
		op = a.ops.newOp("/subscriptions/"+c.ID.Subscription+"/providers/Microsoft.ContainerRegistry/locations/"+loc+"/operationResults",
			lastType(c.ID), headerLocation, nil, nil)
		a.ops.accept(c, op)
		return writeJSON(c.W, http.StatusAccepted, nil)
	}
	a.ops.accept(c, op)
	c.W.WriteHeader(http.StatusAccepted)
	return nil
}
