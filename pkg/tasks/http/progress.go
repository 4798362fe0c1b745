package http

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// startProgress reports a load test's progress until the returned function
// is called: a bar on a terminal, otherwise a line every 5 seconds.
func startProgress(r *experiment.Run, version string, rec *recorder, p *pacer) func() {
	total := p.planned()
	interval := 5 * time.Second
	var bar *progressbar.ProgressBar
	if r.Terminal {
		interval = 200 * time.Millisecond
		if total == 0 {
			total = -1 // unknown (as fast as possible): a spinner
		}
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(r.Progress),
			progressbar.OptionSetDescription("http "+version),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("req"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					_ = bar.Finish()
				}
				return
			case <-tick.C:
				n := rec.sent()
				if bar != nil {
					_ = bar.Set64(n)
					continue
				}
				fmt.Fprintf(r.Progress, "http %s: %d requests sent, %s elapsed\n", version, n, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
