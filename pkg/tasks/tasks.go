// Package tasks gathers the experiment tasks into the registry the parser
// uses. Each task lives in its own package below this one.
package tasks

import (
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks/assess"
	"github.com/iter8-tools/iter8/pkg/tasks/custommetrics"
	grpctask "github.com/iter8-tools/iter8/pkg/tasks/grpc"
	httptask "github.com/iter8-tools/iter8/pkg/tasks/http"
	"github.com/iter8-tools/iter8/pkg/tasks/notify"
	"github.com/iter8-tools/iter8/pkg/tasks/ready"
)

// Registry returns every task by name.
func Registry() experiment.Registry {
	return experiment.Registry{
		assess.Name:        assess.New,
		custommetrics.Name: custommetrics.New,
		grpctask.Name:      grpctask.New,
		httptask.Name:      httptask.New,
		notify.Name:        notify.New,
		ready.Name:         ready.New,
	}
}
