package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// findChromium returns a headless-capable Chromium, skipping the test when there is none,
// except in CI (CI=true), where .ci/run installs the Debian package chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required in CI to check report.html (.ci/run installs the Debian package chromium)")
	}
	t.Skip("no chromium here (apt-get install chromium) to open report.html in")
	return ""
}

// cdp is a minimal client of the Chrome DevTools Protocol over --remote-debugging-pipe (file
// descriptors 3 and 4, messages ending in NUL): enough to load a page, listen to its console
// and log, evaluate an expression and take a screenshot, with no WebSocket library.
type cdp struct {
	t       *testing.T
	cmd     *exec.Cmd
	w       *os.File
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMsg
	events  chan cdpMsg
	stderr  bytes.Buffer
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct{ Message string }
	SessionID string `json:"sessionId,omitempty"`
}

func startChromium(t *testing.T, bin string) *cdp {
	t.Helper()
	toChrome, ourEnd, err := os.Pipe() // chromium reads commands on fd 3
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, chromeEnd, err := os.Pipe() // and writes answers on fd 4
	if err != nil {
		t.Fatal(err)
	}
	c := &cdp{t: t, w: ourEnd, waiting: map[int]chan cdpMsg{}, events: make(chan cdpMsg, 1000)}
	c.cmd = exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--hide-scrollbars", "--user-data-dir="+t.TempDir(), "about:blank")
	c.cmd.ExtraFiles = []*os.File{toChrome, chromeEnd}
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	toChrome.Close()
	chromeEnd.Close()
	t.Cleanup(func() {
		ourEnd.Close()
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
	go c.read(fromChrome)
	return c
}

func (c *cdp) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMsg
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.waiting[m.ID]
			delete(c.waiting, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case c.events <- m:
		default:
		}
	}
}

// call sends a command (to a page session when session is set) and waits for its answer.
func (c *cdp) call(ctx context.Context, session, method string, params any, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpMsg, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w (chromium stderr: %s)", method, err, c.stderr.String())
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w (chromium stderr: %s)", method, ctx.Err(), c.stderr.String())
	}
}

// TestHTMLReportInChromium opens report.html, with its figures, in a real headless Chromium:
// the page loads with no console error or failed request, every image has decoded
// (naturalWidth > 0), a screenshot is taken, and the page prints to PDF.
func TestHTMLReportInChromium(t *testing.T) {
	bin := findChromium(t)
	t.Parallel()
	dir := t.TempDir()
	results := []*Result{loadFixture(t, fixtureSweep), loadFixture(t, fixtureRepeatsA)}
	doc, err := NewDocument(results, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Write(dir, results); err != nil {
		t.Fatal(err)
	}
	nFigures := 0
	for _, s := range doc.Sections {
		nFigures += len(s.Figures)
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportHTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	// Self-contained: nothing refers outside the file.
	for _, bad := range []string{`src="http`, `href="http`, `src="plots/`, "<script", "<link"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("report.html contains %q: it must not load anything", bad)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startChromium(t, bin)
	var target struct{ TargetID string }
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct{ SessionID string }
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	s := attached.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := c.call(ctx, s, m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.Join(dir, ReportHTMLFile)
	if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		t.Fatal(err)
	}

	// Collect events until the load event, and a little after it for late console output.
	var problems []string
	loaded := false
	var settle <-chan time.Time
collect:
	for {
		select {
		case ev := <-c.events:
			switch ev.Method {
			case "Page.loadEventFired":
				loaded = true
				settle = time.After(500 * time.Millisecond)
			case "Runtime.consoleAPICalled":
				var p struct {
					Type string
					Args []struct{ Value any }
				}
				_ = json.Unmarshal(ev.Params, &p)
				if p.Type == "error" || p.Type == "assert" {
					problems = append(problems, fmt.Sprintf("console.%s: %v", p.Type, p.Args))
				}
			case "Runtime.exceptionThrown":
				problems = append(problems, "exception: "+string(ev.Params))
			case "Log.entryAdded":
				var p struct {
					Entry struct{ Level, Source, Text, URL string }
				}
				_ = json.Unmarshal(ev.Params, &p)
				if p.Entry.Level == "error" {
					problems = append(problems, fmt.Sprintf("log %s: %s %s", p.Entry.Source, p.Entry.Text, p.Entry.URL))
				}
			}
		case <-settle:
			break collect
		case <-ctx.Done():
			t.Fatalf("report.html did not load (loaded=%v): %v; chromium stderr: %s", loaded, ctx.Err(), c.stderr.String())
		}
	}
	for _, p := range problems {
		t.Errorf("console: %s", p)
	}

	var eval struct {
		Result struct{ Value string }
	}
	expr := `JSON.stringify(Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight})))`
	if err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &eval); err != nil {
		t.Fatal(err)
	}
	var images []struct {
		Alt      string
		Complete bool
		W, H     int
	}
	if err := json.Unmarshal([]byte(eval.Result.Value), &images); err != nil {
		t.Fatalf("images: %v (%q)", err, eval.Result.Value)
	}
	if len(images) != nFigures || nFigures == 0 {
		t.Errorf("%d images in the page, want the %d figures", len(images), nFigures)
	}
	for _, img := range images {
		if !img.Complete || img.W == 0 || img.H == 0 {
			t.Errorf("image %q did not load: complete=%v naturalWidth=%d", img.Alt, img.Complete, img.W)
		}
	}

	// A screenshot of the whole page.
	var metrics struct {
		CSSContentSize struct{ Width, Height float64 }
	}
	if err := c.call(ctx, s, "Page.getLayoutMetrics", nil, &metrics); err != nil {
		t.Fatal(err)
	}
	var shot struct{ Data string }
	if err := c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": 1200, "height": metrics.CSSContentSize.Height, "scale": 1}}, &shot); err != nil {
		t.Fatal(err)
	}
	pngData, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() < 2000 {
		t.Errorf("screenshot %dx%d, want 1200 wide and a long page", b.Dx(), b.Dy())
	}
	if ink, _ := inkFraction(img); ink < 0.02 {
		t.Errorf("screenshot is blank (%.2f%% inked)", 100*ink)
	}
	shotDir := os.Getenv("PGSCALE_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	shotPath := filepath.Join(shotDir, "report-screenshot.png")
	if err := os.WriteFile(shotPath, pngData, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%dx%d)", shotPath, img.Bounds().Dx(), img.Bounds().Dy())

	// Printable: Chromium lays it out on A4 pages.
	var pdf struct{ Data string }
	if err := c.call(ctx, s, "Page.printToPDF", map[string]any{"preferCSSPageSize": true}, &pdf); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(pdf.Data)
	if err != nil || !bytes.HasPrefix(raw, []byte("%PDF")) || len(raw) < 10000 {
		t.Errorf("print to PDF: %v, %d bytes", err, len(raw))
	}
	if os.Getenv("PGSCALE_SCREENSHOT_DIR") != "" {
		_ = os.WriteFile(filepath.Join(shotDir, "report.pdf"), raw, 0o644)
	}
	_ = c.call(ctx, "", "Browser.close", nil, nil)
}
