package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	// contentType is what ACR sends without a Content-Type custom header (the recording's
	// eventRequestMessage headers; the documentation says application/json).
	contentType = "application/json; charset=utf-8"
	// userAgent is ACR's (receivers such as Kargo's recognize deliveries by its prefix
	// "AzureContainerRegistry/"; the version is UNCONFIRMED).
	userAgent = "AzureContainerRegistry/1.0"
	// maxResponseContent bounds the response body a delivery keeps (ACR cuts long bodies
	// short in listEvents; the exact length is UNCONFIRMED).
	maxResponseContent = 4096
)

// send makes one delivery and reports it. There is no retry: ACR tries a webhook call once
// (https://github.com/Azure/acr/issues/681, "webhook calls are only tried once and never
// retried if a call failed", closed without change). Redirects are not followed (UNCONFIRMED).
func send(ctx context.Context, client *http.Client, j job) Delivery {
	body := marshal(j.content)
	uri := j.uri
	if u, err := url.Parse(j.uri); err == nil && u.Path == "" {
		// As ACR reports it (requestUri http://www.microsoft.com/ for http://www.microsoft.com).
		u.Path = "/"
		uri = u.String()
	}
	d := Delivery{ID: j.content.ID, Request: RequestMessage{Content: j.content, Method: http.MethodPost, RequestURI: uri, Version: "1.1",
		Headers: map[string]string{}}}
	for k, v := range j.headers {
		d.Request.Headers[k] = v
	}
	if !hasHeader(j.headers, "Content-Type") {
		d.Request.Headers["Content-Type"] = contentType
	}
	d.Request.Headers["Content-Length"] = strconv.Itoa(len(body))

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
	if err != nil {
		d.Response = failed(err)
		return d
	}
	for k, v := range d.Request.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("User-Agent", userAgent)
	res, err := client.Do(req)
	if err != nil {
		d.Response = failed(err)
		return d
	}
	defer res.Body.Close()
	content, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseContent))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20)) // so the connection can be reused
	d.Response = &ResponseMessage{Content: string(content), Headers: map[string]string{}, ReasonPhrase: http.StatusText(res.StatusCode),
		StatusCode: strconv.Itoa(res.StatusCode), Version: strconv.Itoa(res.ProtoMajor) + "." + strconv.Itoa(res.ProtoMinor)}
	for k, vs := range res.Header {
		d.Response.Headers[k] = strings.Join(vs, ", ")
	}
	return d
}

// marshal writes a body compactly without HTML escapes (a user agent's "<" stays one).
func marshal(c Content) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c) // a Content always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// failed is the response of a delivery that got none.
func failed(err error) *ResponseMessage {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &ResponseMessage{Headers: map[string]string{}, ReasonPhrase: err.Error()}
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
