package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Page is a page open in a real headless Chromium (Debian's package)
// driven over the DevTools protocol, with the network off: what it writes
// to its console and every request it tries are recorded.
type Page struct {
	ctx context.Context
	mu  sync.Mutex
	// console holds the page's console errors, warnings and exceptions.
	console []string
	// requests holds the URLs of the requests it tried, but for file: and
	// data: URLs.
	requests []string
	// Loaded is how long the page took from navigation to its load event.
	Loaded time.Duration
}

// OpenPage starts a headless Chromium for the test, turns its network off
// and opens url (a file:// URL), returning once the page has loaded. Under
// -short, which runs the fast tests, the test is skipped.
func OpenPage(t testing.TB, url string) *Page {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: opens Chromium")
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("this test needs a browser: run `apt-get install chromium` (CI installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 2000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })

	p := &Page{ctx: ctx}
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatalf("Chromium: turning the network off: %v", err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	p.Loaded = time.Since(start)
	return p
}

// record keeps console errors and warnings and the URLs of requests.
func (p *Page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if u := ev.Request.URL; !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") {
			p.requests = append(p.requests, u)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, a.Description+string(a.Value))
			}
			p.console = append(p.console, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.console = append(p.console, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *cdplog.EventEntryAdded:
		if l := ev.Entry.Level; l == cdplog.EntryLevelError || l == cdplog.EntryLevelWarning {
			p.console = append(p.console, fmt.Sprintf("log %s (%s): %s", l, ev.Entry.Source, ev.Entry.Text))
		}
	}
}

// Problems are the console errors, warnings and exceptions of the page and
// the requests it tried to send anywhere.
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]string(nil), p.console...)
	for _, u := range p.requests {
		out = append(out, "request to "+u)
	}
	return out
}

// Eval evaluates a JavaScript expression in the page and returns its value
// (JSON-decoded into T).
func Eval[T any](t testing.TB, p *Page, expression string) T {
	t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expression, err)
	}
	return v
}

// WaitFor polls a JavaScript expression until it is true, for at most
// timeout, and returns how long that took.
func (p *Page) WaitFor(t testing.TB, expression string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for deadline := start.Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expression)); err == nil && ok {
			return time.Since(start)
		}
	}
	t.Fatalf("%s is not true after %s", expression, timeout)
	return 0
}

// WaitForPlots waits, for at most timeout, until every plot div (class
// "plot", as internal/webpage writes them) holds a drawn plotly.js figure,
// and returns how long that took.
func (p *Page) WaitForPlots(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	return p.WaitFor(t, `[...document.querySelectorAll(".plot")].every(d => d.querySelector("svg.main-svg") !== null)`, timeout)
}

// Screenshot is a PNG of the whole page.
func (p *Page) Screenshot(t testing.TB) []byte {
	t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	return b
}
