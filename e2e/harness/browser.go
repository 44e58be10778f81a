package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Browser is a headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4), so a test needs
// neither a WebDriver nor a WebSocket library.
type Browser struct {
	cmd     *exec.Cmd
	w       *os.File
	session string

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	closed  error
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// StartBrowser starts Chromium (CHROMIUM, else chromium on PATH) with one blank page and stops
// it at cleanup.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	bin := Tool(t, "CHROMIUM", "chromium")
	toChrome, ourEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, chromeEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--no-default-browser-check", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-proxy-server", "--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, chromeEnd} // fds 3 and 4
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toChrome.Close()
	chromeEnd.Close()
	b := &Browser{cmd: cmd, w: ourEnd, pending: map[int]chan cdpMessage{}}
	go b.read(fromChrome)
	t.Cleanup(func() {
		ourEnd.Close() // Chromium exits when its pipe closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("--- chromium output ---\n%s", logs.String())
		}
	})

	var targets struct {
		TargetInfos []struct{ TargetID, Type string } `json:"targetInfos"`
	}
	b.call(t, "", "Target.getTargets", nil, &targets)
	for _, ti := range targets.TargetInfos {
		if ti.Type == "page" {
			var att struct{ SessionID string }
			b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": ti.TargetID, "flatten": true}, &att)
			b.session = att.SessionID
			return b
		}
	}
	t.Fatalf("chromium has no page: %+v\n%s", targets, logs.String())
	return nil
}

func (b *Browser) read(f *os.File) {
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.closed = fmt.Errorf("chromium closed its pipe: %w", err)
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil || m.ID == 0 {
			continue // events: the tests poll the page instead
		}
		b.mu.Lock()
		if ch, ok := b.pending[m.ID]; ok {
			ch <- m
			delete(b.pending, m.ID)
		}
		b.mu.Unlock()
	}
}

// try sends one command and decodes its result into out; a protocol error is returned.
func (b *Browser) try(session, method string, params, out any) error {
	b.mu.Lock()
	if b.closed != nil {
		b.mu.Unlock()
		return b.closed
	}
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if params == nil {
		msg["params"] = map[string]any{}
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, _ := json.Marshal(msg)
	if _, err := b.w.Write(append(raw, 0)); err != nil {
		return err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return b.closed
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: no answer from chromium in 30s", method)
	}
}

func (b *Browser) call(t testing.TB, session, method string, params, out any) {
	t.Helper()
	if err := b.try(session, method, params, out); err != nil {
		t.Fatal(err)
	}
}

// Navigate opens url in the page and waits until it has loaded.
func (b *Browser) Navigate(t testing.TB, url string) {
	t.Helper()
	b.Eval(t, "window.__leaving = true")
	var nav struct{ ErrorText string }
	b.call(t, b.session, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", url, nav.ErrorText)
	}
	b.WaitFor(t, fmt.Sprintf("!window.__leaving && location.href === %q && document.readyState === 'complete'", url))
}

// Eval evaluates a JavaScript expression in the page and returns its JSON value.
func (b *Browser) Eval(t testing.TB, expr string) any {
	t.Helper()
	v, err := b.eval(expr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (b *Browser) eval(expr string) (any, error) {
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.try(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return nil, err
	}
	if d := res.ExceptionDetails; d != nil {
		return nil, fmt.Errorf("%s: %s %s", expr, d.Text, d.Exception.Description)
	}
	return res.Result.Value, nil
}

// Submit runs JavaScript that leaves the page (a click on a form's button) and waits until the
// next page has loaded and cond holds on it; the old page is told apart by a mark left on it.
func (b *Browser) Submit(t testing.TB, action, cond string) {
	t.Helper()
	b.Eval(t, "window.__leaving = true; "+action)
	b.WaitFor(t, "!window.__leaving && document.readyState === 'complete' && ("+cond+")")
}

// WaitFor polls a JavaScript condition until it is true (a page being replaced by a form's
// answer is retried), failing the test after 30s.
func (b *Browser) WaitFor(t testing.TB, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last any
	var lastErr error
	for time.Now().Before(deadline) {
		v, err := b.eval(cond)
		if err == nil && v == true {
			return
		}
		last, lastErr = v, err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waited 30s for %s: last %v, %v; page: %v", cond, last, lastErr, b.Eval(t, "document.body ? document.body.innerText : ''"))
}
