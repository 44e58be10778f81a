// Package reqinfo carries facts learned while serving a request back to outer layers: the
// network gate records its audit entry after the token gate has named the caller.
package reqinfo

import (
	"context"
	"sync"
)

// Info is mutable per-request information.
type Info struct {
	mu        sync.Mutex
	principal string
}

type key struct{}

// With attaches a fresh Info to ctx.
func With(ctx context.Context) (context.Context, *Info) {
	i := &Info{}
	return context.WithValue(ctx, key{}, i), i
}

// SetPrincipal records who the request was authenticated as (no-op without an Info).
func SetPrincipal(ctx context.Context, name string) {
	if i, ok := ctx.Value(key{}).(*Info); ok {
		i.mu.Lock()
		i.principal = name
		i.mu.Unlock()
	}
}

// Principal returns the recorded principal.
func (i *Info) Principal() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.principal
}
