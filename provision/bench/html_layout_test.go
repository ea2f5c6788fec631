package bench_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
)

// TestHTMLLayoutInChromium renders the report in headless Chromium at common widths and checks
// where it drew things: the page never scrolls sideways; every host's verdict and reason cell
// lies within the viewport, wide enough to read, its text not cut off; no label of a chart
// overlaps another or leaves its chart; and the fleet summary is as tall at 500 hosts as at 5.
// A screenshot of each is kept (-screenshots DIR) and its pixels checked where the layout says a
// verdict cell is.
func TestHTMLLayoutInChromium(t *testing.T) {
	big := bench.BigFleet(t, 500)
	tests := []struct {
		name    string
		page    view.BenchPage
		width   int
		history bool
	}{
		{"5-hosts-1280", view.BenchPage{Reports: bench.Fleet(t)}, 1280, false},
		// As many runs as the chart draws, seconds apart: the times are labelled to the second.
		{"5-hosts-history-1280", view.BenchPage{Reports: bench.Fleet(t), History: bench.FleetHistory(bench.Fleet(t), 30, 7*time.Second)}, 1280, true},
		{"500-hosts-1280", view.BenchPage{Reports: big, History: bench.FleetHistory(big, 12, 6*time.Hour)}, 1280, true},
		{"500-hosts-1024", view.BenchPage{Reports: big, History: bench.FleetHistory(big, 12, 6*time.Hour)}, 1024, true},
	}
	summaryH := map[int]float64{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.page.Generated = bench.FixedTime
			var b bytes.Buffer
			if err := view.WriteBenchHTML(&b, tc.page); err != nil {
				t.Fatal(err)
			}
			l := bench.ChromiumLayout(t, b.String(), tc.width, 900)
			checkLayout(t, l, len(tc.page.Reports), tc.history)
			if tc.width == 1280 {
				summaryH[len(tc.page.Reports)] = l.Summary.B - l.Summary.T
			}

			path := filepath.Join(t.TempDir(), "bench.html")
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			// The top of the page down to the first rows of the table.
			shotH := int(min(l.ScrollH, l.Table.T+600))
			shot := bench.ChromiumShot(t, path, "bench-"+tc.name, tc.width, shotH)
			checkScreenshot(t, shot, l, tc.width, shotH)
		})
	}
	// The summary is drawn from counts and bounded lists (8 reasons, 10 largest errors, 20 runs):
	// at 500 hosts it still fits two screens.
	if h := summaryH[500]; h == 0 || h > 1800 {
		t.Errorf("the fleet summary is %.0f px tall at 500 hosts", h)
	}
}

func checkLayout(t *testing.T, l bench.PageLayout, hosts int, history bool) {
	t.Helper()
	if l.ScrollW > l.ClientW {
		t.Errorf("the page scrolls sideways: %.0f px wide in a %.0f px viewport", l.ScrollW, l.ClientW)
	}
	viewport := bench.Box{L: 0, T: 0, R: l.ClientW, B: l.ScrollH}
	if len(l.Rows) != hosts {
		t.Fatalf("%d table rows for %d hosts", len(l.Rows), hosts)
	}
	for _, r := range l.Rows {
		if !r.VerdictBox.Inside(viewport) || !r.ReasonBox.Inside(viewport) {
			t.Errorf("%s: verdict at %+v, reason at %+v: outside the %.0f px viewport", r.Host, r.VerdictBox, r.ReasonBox, l.ClientW)
		}
		if r.VerdictClipped || r.ReasonClipped {
			t.Errorf("%s: verdict or reason cut off (%v, %v)", r.Host, r.VerdictClipped, r.ReasonClipped)
		}
		if w := r.ReasonBox.R - r.ReasonBox.L; w < 0.25*l.ClientW {
			t.Errorf("%s: the reason column is %.0f px wide: too narrow to read", r.Host, w)
		}
		if r.Verdict == "" || r.Reason == "" {
			t.Errorf("%s: verdict %q, reason %q", r.Host, r.Verdict, r.Reason)
		}
	}
	if l.Summary.B > l.Table.T {
		t.Errorf("the summary (%+v) is not above the table (%+v)", l.Summary, l.Table)
	}
	ids := map[string]bool{}
	for _, s := range l.SVGs {
		ids[s.ID] = true
		if !s.Box.Inside(viewport) {
			t.Errorf("chart %s at %+v: outside the viewport", s.ID, s.Box)
		}
		for i, a := range s.Texts {
			if !a.Box.Inside(s.Box) {
				t.Errorf("chart %s: label %q at %+v leaves the chart (%+v)", s.ID, a.Text, a.Box, s.Box)
			}
			for _, b := range s.Texts[i+1:] {
				if a.Box.Overlaps(b.Box) {
					t.Errorf("chart %s: labels %q %+v and %q %+v overlap", s.ID, a.Text, a.Box, b.Text, b.Box)
				}
			}
		}
	}
	for _, id := range []string{"verdicts", "accuracy", "ipc"} {
		if !ids[id] {
			t.Errorf("no chart %s (charts %v)", id, ids)
		}
	}
	if ids["history"] != history {
		t.Errorf("history chart drawn: %v, want %v", ids["history"], history)
	}
}

// checkScreenshot: the PNG has the window's size, and where the layout put the first failing
// host's verdict cell, the picture has the fail colour.
func checkScreenshot(t *testing.T, path string, l bench.PageLayout, width, height int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("screenshot %dx%d, want %dx%d", b.Dx(), b.Dy(), width, height)
	}
	fail := color.RGBA{0xfb, 0xdc, 0xdc, 0xff} // tr.fail td.verdict
	for _, r := range l.Rows {
		if r.Verdict != string(bench.Fail) || r.VerdictBox.B > float64(height) {
			continue
		}
		// Inside the cell's padding, right of its text, the cell's background shows.
		p := image.Pt(int(r.VerdictBox.R)-4, int(r.VerdictBox.T)+3)
		if got := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA); !near(got, fail) {
			t.Errorf("%s: screenshot pixel %v is %v, want the fail colour %v", r.Host, p, got, fail)
		}
		return
	}
	t.Error("no failing host's verdict cell in the screenshot")
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) < 8 && d(a.G, b.G) < 8 && d(a.B, b.B) < 8
}
