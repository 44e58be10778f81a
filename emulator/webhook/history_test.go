package webhook

import (
	"fmt"
	"slices"
	"testing"
)

// The history keeps the newest deliveries of each webhook up to its bound, and the newest in
// all up to the total, dropping the oldest first whichever webhook it belongs to.
func TestHistoryBounds(t *testing.T) {
	h := newHistory(3, 4)
	ids := func(uid string) []string {
		var out []string
		for _, d := range h.list(uid) {
			out = append(out, d.ID)
		}
		return out
	}
	add := func(uid string, n int) {
		for i := range n {
			h.add(uid, Delivery{ID: fmt.Sprint(uid, i)})
		}
	}
	add("a", 5)
	if got := ids("a"); !slices.Equal(got, []string{"a4", "a3", "a2"}) {
		t.Fatalf("a: %v", got)
	}
	add("b", 2)
	if got, gotB := ids("a"), ids("b"); !slices.Equal(got, []string{"a4", "a3"}) || !slices.Equal(gotB, []string{"b1", "b0"}) {
		t.Fatalf("after b: a %v b %v", got, gotB)
	}
	h.forget("a")
	add("c", 1)
	if got := ids("a"); len(got) != 0 || h.count != 3 {
		t.Fatalf("forgotten a: %v, count %d", got, h.count)
	}
	for i := range 1000 {
		h.add(fmt.Sprint("w", i%7), Delivery{})
	}
	if h.count != 4 || len(h.order) > 8 {
		t.Fatalf("after many: count %d, order %d", h.count, len(h.order))
	}
}
