package token

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// latencies records per-request durations and reports p50/p99 beside ns/op.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	b.ReportMetric(float64(l[len(l)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(l[len(l)*99/100].Microseconds()), "p99-µs")
	var total time.Duration
	for _, d := range l {
		total += d
	}
	b.ReportMetric(float64(len(l))/total.Seconds(), "req/s")
}

func benchRequest(b *testing.B, newReq func() *http.Request) {
	var l latencies
	for i := 0; i < b.N; i++ {
		req := newReq()
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		l = append(l, time.Since(start))
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	l.report(b)
}

// BenchmarkTokenBasic is docker/crane's GET /oauth2/token with admin credentials and a scope.
func BenchmarkTokenBasic(b *testing.B) {
	f := newFixture(&testing.T{}, nil)
	defer f.srv.Close()
	benchRequest(b, func() *http.Request {
		req, _ := http.NewRequest("GET", f.srv.URL+"/oauth2/token?service="+f.login+"&scope=repository:app:pull,push", nil)
		req.SetBasicAuth("myregistry", "pw1")
		return req
	})
}

// BenchmarkTokenRefresh is the POST refresh_token grant of a service principal (RBAC evaluated).
func BenchmarkTokenRefresh(b *testing.B) {
	f := newFixture(&testing.T{}, nil)
	defer f.srv.Close()
	r := f.do(&testing.T{}, "POST", "/oauth2/exchange", nil, url.Values{"grant_type": {"access_token"}, "access_token": {"acr-token-puller"}})
	rt := field(&testing.T{}, r.body, "refresh_token")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"repository:app:pull"}, "service": {f.login}}.Encode()
	benchRequest(b, func() *http.Request {
		req, _ := http.NewRequest("POST", f.srv.URL+"/oauth2/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	})
}

// BenchmarkExchange is POST /oauth2/exchange (Entra verification faked, RBAC evaluated).
func BenchmarkExchange(b *testing.B) {
	f := newFixture(&testing.T{}, nil)
	defer f.srv.Close()
	form := url.Values{"grant_type": {"access_token"}, "access_token": {"acr-token-puller"}, "service": {f.login}}.Encode()
	benchRequest(b, func() *http.Request {
		req, _ := http.NewRequest("POST", f.srv.URL+"/oauth2/exchange", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	})
}
