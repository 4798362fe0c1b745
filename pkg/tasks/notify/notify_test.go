package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

var withPath = field.NewPath("spec", "tasks").Index(2).Child("with")

func TestValidate(t *testing.T) {
	const url = "https://hooks.example.com/services/T0/B0/secret"
	tests := []struct {
		name string
		task Task
		want []string
	}{
		{
			name: "slack with defaults",
			task: Task{URL: url},
		},
		{
			name: "github",
			task: Task{URL: "https://api.github.com/repos/o/r/dispatches", Format: FormatGitHub, TokenEnv: "GITHUB_TOKEN", EventType: "deploy"},
		},
		{
			name: "custom",
			task: Task{URLEnv: "HOOK_URL", Method: "PUT", Format: FormatCustom, PayloadTemplate: `{"ok": {{.SLOsSatisfied}}}`, Headers: map[string]string{"X-Team": "checkout"}},
		},
		{
			name: "no url",
			task: Task{},
			want: []string{`spec.tasks[2].with.url: Required value: the webhook's absolute http or https URL, or urlEnv naming an environment variable that holds it`},
		},
		{
			name: "url and urlEnv",
			task: Task{URL: url, URLEnv: "HOOK_URL"},
			want: []string{`spec.tasks[2].with.urlEnv: Forbidden: url and urlEnv exclude each other: set one`},
		},
		{
			name: "relative url, not quoted in the error",
			task: Task{URL: "hooks.example.com/services/T0/B0/secret"},
			want: []string{`spec.tasks[2].with.url: Invalid value: must be an absolute http or https URL`},
		},
		{
			name: "not http",
			task: Task{URL: "ftp://files.example.com/in"},
			want: []string{`spec.tasks[2].with.url: Invalid value: must be an absolute http or https URL`},
		},
		{
			name: "url that does not parse",
			task: Task{URL: "https://exa mple.com:port/secret"},
			want: []string{`spec.tasks[2].with.url: Invalid value: must be an absolute http or https URL`},
		},
		{
			name: "bad environment variable names",
			task: Task{URLEnv: "1URL", TokenEnv: "MY-TOKEN"},
			want: []string{
				`spec.tasks[2].with.urlEnv: Invalid value: "1URL": must be an environment variable name: letters, digits and '_', not starting with a digit`,
				`spec.tasks[2].with.tokenEnv: Invalid value: "MY-TOKEN": must be an environment variable name: letters, digits and '_', not starting with a digit`,
			},
		},
		{
			name: "method",
			task: Task{URL: url, Method: "GET"},
			want: []string{`spec.tasks[2].with.method: Unsupported value: "GET": supported values: "POST", "PUT", "PATCH"`},
		},
		{
			name: "lowercase method",
			task: Task{URL: url, Method: "post"},
			want: []string{`spec.tasks[2].with.method: Unsupported value: "post": supported values: "POST", "PUT", "PATCH"`},
		},
		{
			name: "unknown format: its parameters are not checked",
			task: Task{URL: url, Format: "teams", Text: "hi", EventType: "x"},
			want: []string{`spec.tasks[2].with.format: Unsupported value: "teams": supported values: "slack", "github", "custom"`},
		},
		{
			name: "parameters of other formats",
			task: Task{URL: url, Format: FormatGitHub, Text: "hi", PayloadTemplate: "{}"},
			want: []string{
				`spec.tasks[2].with.text: Forbidden: only with format slack; the format is github`,
				`spec.tasks[2].with.payloadTemplate: Forbidden: only with format custom; the format is github`,
			},
		},
		{
			name: "eventType with slack",
			task: Task{URL: url, EventType: "deploy"},
			want: []string{`spec.tasks[2].with.eventType: Forbidden: only with format github; the format is slack`},
		},
		{
			name: "custom without payloadTemplate",
			task: Task{URL: url, Format: FormatCustom},
			want: []string{`spec.tasks[2].with.payloadTemplate: Required value: a text/template over the summary that renders the JSON body`},
		},
		{
			name: "text that does not parse",
			task: Task{URL: url, Text: "{{.Experiment"},
			want: []string{`spec.tasks[2].with.text: Invalid value: template: spec.tasks[2].with.text:1: unclosed action`},
		},
		{
			name: "payloadTemplate calling an unknown function",
			task: Task{URL: url, Format: FormatCustom, PayloadTemplate: `{"text": {{yaml .Experiment}}}`},
			want: []string{`spec.tasks[2].with.payloadTemplate: Invalid value: template: spec.tasks[2].with.payloadTemplate:1: function "yaml" not defined`},
		},
		{
			name: "eventType too long",
			task: Task{URL: url, Format: FormatGitHub, EventType: strings.Repeat("e", 101)},
			want: []string{`spec.tasks[2].with.eventType: Too long: may not be more than 100 bytes`},
		},
		{
			name: "headers",
			task: Task{URL: url, TokenEnv: "TOKEN", Headers: map[string]string{
				"X Team":        "a",
				"X-Note":        "a\r\nInjected: yes",
				"authorization": "Bearer abc",
				"X-Fine":        "ok",
				"":              "x",
			}},
			want: []string{
				`spec.tasks[2].with.headers[]: Invalid value: "": must be an HTTP header name: letters, digits and !#$%&'*+-.^_` + "`" + `|~`,
				`spec.tasks[2].with.headers[X Team]: Invalid value: "X Team": must be an HTTP header name: letters, digits and !#$%&'*+-.^_` + "`" + `|~`,
				`spec.tasks[2].with.headers[X-Note]: Invalid value: must not contain line breaks or NUL`,
				`spec.tasks[2].with.headers[authorization]: Forbidden: tokenEnv sets the Authorization header`,
			},
		},
		{
			name: "Authorization header without tokenEnv",
			task: Task{URL: url, Headers: map[string]string{"Authorization": "Basic dTpw"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := tc.task
			var got []string
			for _, e := range experiment.Prepare(&task, &experiment.ValidationContext{}, withPath) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateDefaults(t *testing.T) {
	tests := []struct {
		name string
		task Task
		want Task
	}{
		{
			name: "slack",
			task: Task{URL: "http://127.0.0.1:9/x"},
			want: Task{URL: "http://127.0.0.1:9/x", Method: "POST", Format: FormatSlack, Text: DefaultText, Timeout: experiment.Duration{Duration: 10 * time.Second}},
		},
		{
			name: "github",
			task: Task{URL: "http://127.0.0.1:9/x", Format: FormatGitHub, Timeout: experiment.Duration{Duration: time.Second}},
			want: Task{URL: "http://127.0.0.1:9/x", Method: "POST", Format: FormatGitHub, EventType: "iter8", Timeout: experiment.Duration{Duration: time.Second}},
		},
		{
			name: "custom keeps what is given",
			task: Task{URL: "http://127.0.0.1:9/x", Method: "PATCH", Format: FormatCustom, PayloadTemplate: "{}"},
			want: Task{URL: "http://127.0.0.1:9/x", Method: "PATCH", Format: FormatCustom, PayloadTemplate: "{}", Timeout: experiment.Duration{Duration: 10 * time.Second}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.task
			if errs := experiment.Prepare(&got, &experiment.ValidationContext{}, withPath); len(errs) > 0 {
				t.Fatal(errs)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(Task{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewAndMetrics(t *testing.T) {
	task := New()
	if diff := cmp.Diff(&Task{}, task, cmpopts.IgnoreUnexported(Task{})); diff != "" {
		t.Errorf("New() (-want +got):\n%s", diff)
	}
	if m := task.Metrics(); m != nil {
		t.Errorf("Metrics() = %v, want nil", m)
	}
}
