package report_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/iter8-tools/iter8/pkg/report"
)

// BenchmarkHTML writes the HTML report of a 1,000,000-request result (two
// versions of 500,000 requests each, two earlier iterations), and reports
// the page's size.
func BenchmarkHTML(b *testing.B) {
	r := loadResult(b, "checkout", []string{"v1", "v2"}, 500000, []float64{10, 40}, []int64{0, 5000})
	var page bytes.Buffer
	if err := report.HTML(&page, r); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := report.HTML(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(page.Len()), "page-bytes")
}
