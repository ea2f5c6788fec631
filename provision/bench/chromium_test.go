package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The HTML report as headless Chromium (Debian's chromium package, see the README's bench
// section) renders it: the DOM it built, where it laid out the page's parts, and a screenshot.

var screenshots = flag.String("screenshots", "", "keep the HTML report's screenshots in `DIR` (default: the test's temporary directory)")

// chromium runs headless Chromium on the page at path with a window of width x height CSS
// pixels, plus args, and returns its standard output. Under CI its absence is a failure.
func chromium(t *testing.T, path string, width, height int, args ...string) string {
	t.Helper()
	bin := ""
	for _, b := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	argv := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--force-device-scale-factor=1", fmt.Sprintf("--window-size=%d,%d", width, height),
		"--user-data-dir=" + filepath.Join(dir, "profile")}
	argv = append(append(argv, args...), "file://"+path)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// chromiumDOM loads the page at path and returns the DOM it rendered.
func chromiumDOM(t *testing.T, path string) string {
	t.Helper()
	return chromium(t, path, 1280, 900, "--dump-dom")
}

// renderedVerdicts maps each host (or host/benchmark) row of the rendered table to its verdict.
func renderedVerdicts(dom string) map[string]string {
	rows := regexp.MustCompile(`(?s)<tr class="([a-z-]+)"><td class="host"><span class="name">([^<]+)</span>`).FindAllStringSubmatch(dom, -1)
	got := map[string]string{}
	for _, r := range rows {
		got[html.UnescapeString(r[2])] = r[1]
	}
	return got
}

// Box is an element's border box in page coordinates (CSS pixels from the top left of the page).
type Box struct{ L, T, R, B float64 }

func (b Box) Overlaps(o Box) bool {
	const slack = 0.5 // boxes that touch do not overlap
	return b.L < o.R-slack && o.L < b.R-slack && b.T < o.B-slack && o.T < b.B-slack
}

func (b Box) Inside(o Box) bool {
	const slack = 0.5
	return b.L >= o.L-slack && b.R <= o.R+slack && b.T >= o.T-slack && b.B <= o.B+slack
}

// RowLayout is one row of the host table: where its verdict and reason cells are, and whether
// their content is wider than the cell (cut off).
type RowLayout struct {
	Host, Verdict, Reason         string
	VerdictBox, ReasonBox         Box
	VerdictClipped, ReasonClipped bool
}

// SVGLayout is one chart and its text labels.
type SVGLayout struct {
	ID    string
	Box   Box
	Texts []struct {
		Text string
		Box  Box
	}
}

// PageLayout is where Chromium laid out the page: the viewport's width without its scroll bar
// (ClientW), the page's full size, the parts the tests look at.
type PageLayout struct {
	ClientW, ScrollW, ScrollH float64
	Summary, Table            Box
	Rows                      []RowLayout
	SVGs                      []SVGLayout
}

// layoutProbe measures the rendered page and writes the measures into it as JSON, where
// --dump-dom shows them. It is added to a copy of the page: the report itself has no script.
const layoutProbe = `<script>
(function () {
  const box = e => { const r = e.getBoundingClientRect(); return {L: r.left + scrollX, T: r.top + scrollY, R: r.right + scrollX, B: r.bottom + scrollY}; };
  const clipped = e => e.scrollWidth > e.clientWidth + 1;
  const root = document.documentElement;
  const out = {ClientW: root.clientWidth, ScrollW: root.scrollWidth, ScrollH: root.scrollHeight, Rows: [], SVGs: []};
  for (const tr of document.querySelectorAll('#fleet tbody tr')) {
    const v = tr.querySelector('td.verdict'), r = tr.querySelector('td.reason');
    out.Rows.push({Host: tr.querySelector('td.host .name').textContent, Verdict: v.textContent, Reason: r.textContent,
      VerdictBox: box(v), ReasonBox: box(r), VerdictClipped: clipped(v), ReasonClipped: clipped(r)});
  }
  for (const s of document.querySelectorAll('svg')) {
    out.SVGs.push({ID: s.id, Box: box(s), Texts: Array.from(s.querySelectorAll('text'), t => ({Text: t.textContent, Box: box(t)}))});
  }
  out.Summary = box(document.getElementById('summary'));
  out.Table = box(document.getElementById('fleet'));
  const pre = document.createElement('pre');
  pre.id = 'perfprov-layout';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`

// chromiumLayout renders page (the report's HTML) at width x height with the probe and returns
// what it measured.
func chromiumLayout(t *testing.T, page string, width, height int) PageLayout {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe.html")
	probed := strings.Replace(page, "</body>", layoutProbe+"\n</body>", 1)
	if err := os.WriteFile(path, []byte(probed), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := chromium(t, path, width, height, "--dump-dom")
	m := regexp.MustCompile(`(?s)<pre id="perfprov-layout">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe wrote no layout; DOM:\n%.2000s", dom)
	}
	var l PageLayout
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &l); err != nil {
		t.Fatalf("layout: %v", err)
	}
	return l
}

// chromiumScreenshot writes a PNG of the top width x height pixels of the page at path to
// name.png under -screenshots (or the test's temporary directory) and returns its path.
func chromiumScreenshot(t *testing.T, path, name string, width, height int) string {
	t.Helper()
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := filepath.Abs(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	chromium(t, path, width, height, "--hide-scrollbars", "--screenshot="+png)
	t.Logf("screenshot: %s", png)
	return png
}
