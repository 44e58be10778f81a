package webhook

import (
	"slices"
	"sync"
)

// Delivery is one attempt to deliver an event, as listEvents reports it (the azure-cli
// recording test_acr_create_webhook.yaml): the request sent and the response received. A
// delivery that got no response (refused, timed out) has a response with the error as its
// reason phrase and no status code (UNCONFIRMED: what ACR reports then is not recorded).
type Delivery struct {
	Request  RequestMessage   `json:"eventRequestMessage"`
	Response *ResponseMessage `json:"eventResponseMessage,omitempty"`
	ID       string           `json:"id"`
}

// RequestMessage is the request a delivery sent.
type RequestMessage struct {
	Content    Content           `json:"content"`
	Headers    map[string]string `json:"headers"`
	Method     string            `json:"method"`
	RequestURI string            `json:"requestUri"`
	Version    string            `json:"version"`
}

// ResponseMessage is what the service URI answered.
type ResponseMessage struct {
	Content      string            `json:"content"`
	Headers      map[string]string `json:"headers"`
	ReasonPhrase string            `json:"reasonPhrase"`
	StatusCode   string            `json:"statusCode,omitempty"`
	Version      string            `json:"version,omitempty"`
}

// history keeps the latest deliveries of each webhook, bounded per webhook and in all.
type history struct {
	mu         sync.Mutex
	perWebhook int
	total      int
	byUID      map[string][]record // oldest first
	order      []record            // every kept record, oldest first (may hold pruned ones)
	seq        uint64
	count      int
}

type record struct {
	uid string
	seq uint64
	d   Delivery
}

func newHistory(perWebhook, total int) *history {
	return &history{perWebhook: perWebhook, total: total, byUID: map[string][]record{}}
}

func (h *history) add(uid string, d Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	r := record{uid: uid, seq: h.seq, d: d}
	h.byUID[uid] = append(h.byUID[uid], r)
	h.order = append(h.order, record{uid: uid, seq: r.seq})
	h.count++
	if rs := h.byUID[uid]; len(rs) > h.perWebhook {
		h.byUID[uid] = slices.Delete(rs, 0, 1)
		h.count--
	}
	for h.count > h.total && len(h.order) > 0 {
		oldest := h.order[0]
		h.order = h.order[1:]
		if rs := h.byUID[oldest.uid]; len(rs) > 0 && rs[0].seq == oldest.seq {
			h.drop(oldest.uid, 1)
		}
	}
	// The order list also holds records a webhook's own bound dropped; keep it from growing
	// past twice what is kept.
	if len(h.order) > 2*h.total {
		h.order = slices.DeleteFunc(h.order, func(o record) bool {
			rs := h.byUID[o.uid]
			return len(rs) == 0 || o.seq < rs[0].seq
		})
	}
}

func (h *history) drop(uid string, n int) {
	rs := h.byUID[uid]
	h.count -= n
	if len(rs) == n {
		delete(h.byUID, uid)
		return
	}
	h.byUID[uid] = rs[n:]
}

// list returns a webhook's deliveries, newest first.
func (h *history) list(uid string) []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.byUID[uid]
	out := make([]Delivery, len(rs))
	for i, r := range rs {
		out[len(rs)-1-i] = r.d
	}
	return out
}

func (h *history) forget(uid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rs := h.byUID[uid]; len(rs) > 0 {
		h.drop(uid, len(rs))
	}
}
