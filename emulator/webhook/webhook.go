// Package webhook delivers a registry's webhooks (Microsoft.ContainerRegistry/registries/webhooks)
// for real: every push and delete the registry's event hook reports is POSTed, with ACR's
// payload (https://learn.microsoft.com/azure/container-registry/container-registry-webhook-reference)
// and the webhook's custom headers, to each enabled webhook whose actions and scope take it,
// and every attempt is kept for listEvents.
//
// Deliveries run off the request path: Notify only queues them (a bounded queue; when it is
// full the delivery is dropped and logged, never waited for), a few workers send them, each
// with a timeout, once (ACR does not retry). They leave the emulator from its host, as any
// outbound HTTP client of the process (HTTP_PROXY and NO_PROXY apply): the registry's network
// rules are about who may reach the registry, not where it calls.
//
// The emulator sends deliveries wherever a webhook's serviceUri says, loopback and private
// addresses included: it is a local tool, and a listener on 127.0.0.1 is how webhooks are
// tested. Whoever may write a webhook (…/webhooks/write) can make the emulator POST to any
// address it can reach; do not expose the management plane to callers you would not let do
// that. Chart events (chart_push, chart_delete) came from ACR's Helm 2 repository API, which the
// emulator does not serve: they are accepted in a webhook's actions and never delivered (a Helm
// chart pushed as an OCI artifact is a push, as on ACR).
package webhook

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Defaults: the timeout of one delivery (UNCONFIRMED: ACR's is not documented), the queue,
// the workers, and how many deliveries listEvents keeps per webhook and in all.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultQueue      = 1000
	DefaultWorkers    = 4
	DefaultPerWebhook = 100
	DefaultTotal      = 10000
)

// Option configures a Service.
type Option func(*Service)

// WithTimeout bounds one delivery (connection, request and response).
func WithTimeout(d time.Duration) Option { return func(s *Service) { s.timeout = d } }

// WithQueue sets how many deliveries may wait; more are dropped.
func WithQueue(n int) Option { return func(s *Service) { s.queue = n } }

// WithLogger sets where dropped deliveries are logged (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithHistory bounds the deliveries kept, per webhook and in all.
func WithHistory(perWebhook, total int) Option {
	return func(s *Service) { s.perWebhook, s.total = perWebhook, total }
}

// Service delivers the webhooks of the registries in one store. Create it with New; Close
// stops it.
type Service struct {
	st                *store.Store
	log               *slog.Logger
	timeout           time.Duration
	queue             int
	perWebhook, total int
	client            *http.Client
	jobs              chan job
	hist              *history
	now               func() time.Time
	ctx               context.Context
	cancel            context.CancelFunc
	wg                sync.WaitGroup
	pending           sync.WaitGroup
}

// New starts a Service's workers.
func New(st *store.Store, opts ...Option) *Service {
	s := &Service{st: st, log: slog.Default(), timeout: DefaultTimeout, queue: DefaultQueue, perWebhook: DefaultPerWebhook,
		total: DefaultTotal, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.jobs = make(chan job, s.queue)
	s.hist = newHistory(s.perWebhook, s.total)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.client = &http.Client{
		Timeout: s.timeout,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: (&net.Dialer{Timeout: s.timeout}).DialContext,
			TLSHandshakeTimeout: s.timeout, ResponseHeaderTimeout: s.timeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for range DefaultWorkers {
		s.wg.Go(s.work)
	}
	return s
}

func (s *Service) work() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.jobs:
			s.hist.add(j.uid, send(s.ctx, s.client, j))
			s.pending.Done()
		}
	}
}

// Notify queues the deliveries of a registry event to the registry's webhooks. It never
// blocks on a delivery.
func (s *Service) Notify(registryName string, ev registry.Event) {
	hooks, err := s.st.ListWebhooks(registryName)
	if err != nil || len(hooks) == 0 {
		return
	}
	reg, err := s.st.GetRegistry(registryName)
	if err != nil || reg == nil {
		return
	}
	for _, j := range fanOut(hooks, reg.QuarantineEnabled, ev, ids.NewGUID, s.now()) {
		s.pending.Add(1)
		select {
		case s.jobs <- j:
		default:
			s.pending.Done()
			s.log.Warn("webhook delivery dropped: the delivery queue is full", "registry", registryName, "action", j.content.Action,
				"repository", ev.Repo, "serviceUri", j.uri)
		}
	}
}

// Ping delivers a ping event to a webhook now, keeps the attempt, and returns the event's
// id. ACR answers a ping once it was delivered (the recording's listEvents, right after,
// already holds the response).
func (s *Service) Ping(ctx context.Context, w *store.Webhook) string {
	id := ids.NewGUID()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	j := job{uid: w.UID, uri: w.ServiceURI, headers: w.CustomHeaders, content: Content{ID: id, Timestamp: timestamp(s.now()), Action: ActionPing}}
	s.hist.add(j.uid, send(ctx, s.client, j))
	return id
}

// Events lists a webhook's deliveries, newest first.
func (s *Service) Events(w *store.Webhook) []Delivery { return s.hist.list(w.UID) }

// Forget drops a deleted webhook's deliveries.
func (s *Service) Forget(w *store.Webhook) { s.hist.forget(w.UID) }

// Wait blocks until every queued delivery has been made (tests, shutdown).
func (s *Service) Wait() { s.pending.Wait() }

// Close stops the workers; deliveries in flight are cut short.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}
