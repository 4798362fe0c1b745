package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// validated returns task after Validate, which parses its template.
func validated(t *testing.T, task Task) *Task {
	t.Helper()
	if errs := experiment.Prepare(&task, &experiment.ValidationContext{}, withPath); len(errs) > 0 {
		t.Fatal(errs)
	}
	return &task
}

// TestPayloadGolden renders each format; the golden files hold the bodies,
// indented for review.
func TestPayloadGolden(t *testing.T) {
	const url = "http://127.0.0.1:9/hook"
	failed := func() Summary {
		s := summary()
		s.Failed, s.Error = true, "task 1 (http) failed: connection refused"
		return s
	}
	running := func() Summary {
		s := summary()
		s.Namespace, s.Completed, s.SLOs, s.SLOsSatisfied = "", false, nil, true
		return s
	}
	allSatisfied := func() Summary {
		s := summary()
		s.SLOsSatisfied, s.Versions[1].SLOsSatisfied = true, true
		return s
	}
	tests := []struct {
		name    string
		task    Task
		summary func() Summary
	}{
		{name: "slack", task: Task{URL: url}, summary: summary},
		{name: "slack-all-satisfied", task: Task{URL: url}, summary: allSatisfied},
		{name: "slack-failed", task: Task{URL: url}, summary: failed},
		{name: "slack-running", task: Task{URL: url}, summary: running},
		{
			name:    "slack-text",
			task:    Task{URL: url, Text: `{{.Experiment}}: p99 of v2 is {{index (index .Versions 1).Metrics "http/latency-p99"}} ms{{range .SLOs}}; {{.Objective}}: {{if .Satisfied.v2}}met{{else}}missed{{end}}{{end}}`},
			summary: summary,
		},
		{name: "github", task: Task{URL: url, Format: FormatGitHub, EventType: "iter8-checkout"}, summary: summary},
		{
			name:    "custom",
			task:    Task{URL: url, Format: FormatCustom, PayloadTemplate: `{"title": {{json .Experiment}}, "ok": {{.SLOsSatisfied}}, "winners": {{json .SatisfyingVersions}}, "error": {{json .Error}}}`},
			summary: failed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := validated(t, tc.task).payload(tc.summary())
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, body, "", "  "); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			got.WriteByte('\n')
			golden := filepath.Join("testdata", "payload-"+tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPayloadErrors(t *testing.T) {
	const url = "http://127.0.0.1:9/hook"
	tests := []struct {
		name string
		task Task
		want string
	}{
		{
			name: "custom payload that is not JSON",
			task: Task{URL: url, Format: FormatCustom, PayloadTemplate: `{"text": {{.Experiment}}}`},
			want: `payloadTemplate did not render JSON: invalid character 'c' looking for beginning of value`,
		},
		{
			name: "unknown field",
			task: Task{URL: url, Text: `{{.Name}}`},
			want: `rendering the template: template: spec.tasks[2].with.text:1:2: executing "spec.tasks[2].with.text" at <.Name>: can't evaluate field Name in type notify.Summary`,
		},
		{
			name: "unknown version",
			task: Task{URL: url, Text: `{{range .SLOs}}{{.Satisfied.v3}}{{end}}`},
			want: `rendering the template: template: spec.tasks[2].with.text:1:27: executing "spec.tasks[2].with.text" at <.Satisfied.v3>: map has no entry for key "v3"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validated(t, tc.task).payload(summary())
			got := "<nil>"
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
