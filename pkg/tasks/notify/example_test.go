package notify_test

import (
	"fmt"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks/notify"
)

// A summary of a finished run in which v2 broke an SLO.
func ExampleSummarize() {
	limit := 50.0
	res := &experiment.Result{
		Experiment: "checkout",
		Iterations: 1,
		Completed:  true,
		Tasks:      []experiment.TaskStatus{{Task: "assess", State: experiment.TaskSucceeded}},
		Versions: []experiment.VersionResult{
			{Name: "v1", Metrics: map[string]float64{"http/latency-p99": 40}},
			{Name: "v2", Metrics: map[string]float64{"http/latency-p99": 70}},
		},
		SLOs: &experiment.SLOResult{
			SLOs:      []experiment.SLO{{Metric: "http/latency-p99", Upper: &limit}},
			Satisfied: [][]bool{{true}, {false}},
		},
	}
	end := res.StartTime
	res.EndTime = &end

	s := notify.Summarize(res, -1)
	fmt.Println("all SLOs satisfied:", s.SLOsSatisfied)
	fmt.Println("satisfying versions:", s.SatisfyingVersions())
	for _, o := range s.SLOs {
		fmt.Println(o.Objective, o.Satisfied)
	}
	// Output:
	// all SLOs satisfied: false
	// satisfying versions: [v1]
	// http/latency-p99 <= 50 map[v1:true v2:false]
}
