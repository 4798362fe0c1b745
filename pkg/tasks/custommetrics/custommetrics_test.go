package custommetrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

var withPath = field.NewPath("spec", "tasks").Index(0).Child("with")

// problems renders errors as "field: type" so that tests compare exact paths.
func problems(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	return out
}

const promURL = "http://127.0.0.1:9090/api/v1/query"

// okProvider returns a valid provider with one metric.
func okProvider(name string) Provider {
	return Provider{Name: name, URL: promURL, Metrics: []Metric{{Name: "requests", Query: "sum(x)"}}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		task    Task
		earlier map[string]experiment.MetricInfo
		want    []string
	}{
		{
			name: "valid",
			task: Task{Providers: []Provider{okProvider("prom")}},
		},
		{
			name: "no providers",
			task: Task{},
			want: []string{"spec.tasks[0].with.providers: Required value"},
		},
		{
			name: "unknown version and zero timeout",
			task: Task{
				Providers: []Provider{okProvider("prom")},
				Versions:  map[string]VersionValues{"v3": {}, "v1": {}},
				Timeout:   &experiment.Duration{},
			},
			want: []string{
				"spec.tasks[0].with.versions[v3]: Unsupported value",
				"spec.tasks[0].with.timeout: Invalid value",
			},
		},
		{
			name: "provider names",
			task: Task{Providers: []Provider{okProvider(""), okProvider("Prom/x"), okProvider("p"), okProvider("p")}},
			want: []string{
				"spec.tasks[0].with.providers[0].name: Required value",
				"spec.tasks[0].with.providers[1].name: Invalid value",
				"spec.tasks[0].with.providers[3].name: Duplicate value",
			},
		},
		{
			name: "urls",
			task: Task{Providers: []Provider{
				{Name: "a", Metrics: []Metric{{Name: "m", Query: "x"}}},
				{Name: "b", URL: "ftp://host/q", Metrics: []Metric{{Name: "m", Query: "x"}}},
				{Name: "c", URL: "/api/v1/query", Metrics: []Metric{{Name: "m", Query: "x"}}},
				{Name: "d", URL: "http://user:secret@host/api/v1/query", Metrics: []Metric{{Name: "m", Query: "x"}}},
			}},
			want: []string{
				"spec.tasks[0].with.providers[0].url: Required value",
				"spec.tasks[0].with.providers[1].url: Invalid value",
				"spec.tasks[0].with.providers[2].url: Invalid value",
				"spec.tasks[0].with.providers[3].url: Forbidden",
			},
		},
		{
			name: "method and headers",
			task: Task{Providers: []Provider{{
				Name: "p", URL: promURL, Method: "PUT",
				Headers: map[string]string{"Bad Header": "x", "authorization": "Bearer x", "X-Scope-OrgID": "t"},
				Auth:    Auth{BearerTokenEnv: "TOKEN"},
				Metrics: []Metric{{Name: "m", Query: "x"}},
			}}},
			want: []string{
				"spec.tasks[0].with.providers[0].method: Unsupported value",
				"spec.tasks[0].with.providers[0].headers[Bad Header]: Invalid value",
				"spec.tasks[0].with.providers[0].headers[authorization]: Forbidden",
			},
		},
		{
			name: "auth",
			task: Task{Providers: []Provider{
				{Name: "a", URL: promURL, Auth: Auth{BearerTokenEnv: "1BAD", BearerTokenFile: "token", BasicAuth: &BasicAuth{}}, Metrics: []Metric{{Name: "m", Query: "x"}}},
				{Name: "b", URL: promURL, Auth: Auth{BasicAuth: &BasicAuth{UsernameEnv: "USER", PasswordEnv: "PASS WORD"}}, Metrics: []Metric{{Name: "m", Query: "x"}}},
			}},
			want: []string{
				"spec.tasks[0].with.providers[0].auth.bearerTokenEnv: Invalid value",
				"spec.tasks[0].with.providers[0].auth.basicAuth.usernameEnv: Required value",
				"spec.tasks[0].with.providers[0].auth.basicAuth.passwordEnv: Required value",
				"spec.tasks[0].with.providers[0].auth.bearerTokenFile: Forbidden",
				"spec.tasks[0].with.providers[0].auth.basicAuth: Forbidden",
				"spec.tasks[0].with.providers[1].auth.basicAuth.passwordEnv: Invalid value",
			},
		},
		{
			name: "metrics",
			task: Task{Providers: []Provider{
				{Name: "a", URL: promURL},
				{Name: "b", URL: promURL, Metrics: []Metric{
					{Query: "x"},
					{Name: "m", Query: "x"},
					{Name: "m", Query: "x"},
					{Name: "-m", Query: "x"},
					{Name: "h", Type: experiment.HistogramType, Query: "x"},
					{Name: "q"},
					{Name: "t", Query: "{{.Version"},
					{Name: "v", Query: "{{.Values.nope}}"},
					{Name: "j", Query: "x", JSONPath: "{.data.result["},
					{Name: "taken", Query: "x"},
				}},
			}},
			earlier: map[string]experiment.MetricInfo{"b/taken": {Name: "b/taken"}},
			want: []string{
				"spec.tasks[0].with.providers[0].metrics: Required value",
				"spec.tasks[0].with.providers[1].metrics[0].name: Required value",
				"spec.tasks[0].with.providers[1].metrics[2].name: Duplicate value",
				"spec.tasks[0].with.providers[1].metrics[3].name: Invalid value",
				"spec.tasks[0].with.providers[1].metrics[4].type: Unsupported value",
				"spec.tasks[0].with.providers[1].metrics[5].query: Required value",
				"spec.tasks[0].with.providers[1].metrics[6].query: Invalid value",
				"spec.tasks[0].with.providers[1].metrics[7].query: Invalid value",
				"spec.tasks[0].with.providers[1].metrics[8].jsonPath: Invalid value",
				"spec.tasks[0].with.providers[1].metrics[9].name: Invalid value",
			},
		},
		{
			name: "value missing for one version",
			task: Task{
				Providers: []Provider{{Name: "p", URL: promURL, Metrics: []Metric{{Name: "m", Query: `sum(x{version="{{.Values.label}}", ns="{{.Values.ns}}"})`}}}},
				Values:    map[string]string{"ns": "default"},
				Versions:  map[string]VersionValues{"v1": {Values: map[string]string{"label": "a"}}},
			},
			want: []string{"spec.tasks[0].with.providers[0].metrics[0].query: Invalid value"},
		},
		{
			name: "values for every version",
			task: Task{
				Providers: []Provider{{Name: "p", URL: promURL, Metrics: []Metric{{Name: "m", Query: `sum(x{version="{{.Values.label}}", ns="{{.Values.ns}}"})`}}}},
				Values:    map[string]string{"ns": "default", "label": "common"},
				Versions:  map[string]VersionValues{"v1": {Values: map[string]string{"label": "a"}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vc := &experiment.ValidationContext{Versions: []string{"v1", "v2"}, Metrics: tc.earlier, Dir: t.TempDir()}
			got := problems(experiment.Prepare(&tc.task, vc, withPath))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateMissingValueNamesVersion(t *testing.T) {
	task := Task{Providers: []Provider{{Name: "p", URL: promURL, Metrics: []Metric{{Name: "m", Query: "{{.Values.label}}"}}}},
		Versions: map[string]VersionValues{"v1": {Values: map[string]string{"label": "a"}}}}
	errs := experiment.Prepare(&task, &experiment.ValidationContext{Versions: []string{"v1", "v2"}}, withPath)
	if len(errs) != 1 || !strings.Contains(errs[0].Detail, `version v2: `) || !strings.Contains(errs[0].Detail, `no entry for key "label"`) {
		t.Errorf("errors = %v, want one naming version v2 and the missing key", errs)
	}
}

func TestValidateDefaultsAndMetrics(t *testing.T) {
	task := Task{Providers: []Provider{{
		Name: "prom", URL: promURL,
		Metrics: []Metric{
			{Name: "requests", Type: experiment.Counter, Description: "requests served", Query: "sum(x)"},
			{Name: "latency", Unit: "ms", Query: "max(y)"},
		},
	}}}
	if errs := experiment.Prepare(&task, &experiment.ValidationContext{Versions: []string{"v1"}}, withPath); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	if got := task.Providers[0].Method; got != "GET" {
		t.Errorf("method = %q, want GET", got)
	}
	if got := task.Timeout.Duration; got != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", got, DefaultTimeout)
	}
	want := []experiment.MetricInfo{
		{Name: "prom/requests", Type: experiment.Counter, Description: "requests served"},
		{Name: "prom/latency", Type: experiment.Gauge, Unit: "ms"},
	}
	if diff := cmp.Diff(want, task.Metrics()); diff != "" {
		t.Errorf("Metrics (-want +got):\n%s", diff)
	}
}

func TestProviderFile(t *testing.T) {
	const good = `providers:
- name: filed
  url: http://127.0.0.1:9090/api/v1/query
  method: POST
  metrics:
  - name: errors
    type: counter
    query: sum(errors{version="{{.Version}}"})
`
	tests := []struct {
		name     string
		file     string // content of providers.yaml; empty: no file
		inline   []Provider
		want     []string
		wantInfo []experiment.MetricInfo
		detail   string // part of the first problem's detail
	}{
		{
			name:   "inline then file",
			file:   good,
			inline: []Provider{okProvider("inline")},
			wantInfo: []experiment.MetricInfo{
				{Name: "inline/requests", Type: experiment.Gauge},
				{Name: "filed/errors", Type: experiment.Counter},
			},
		},
		{
			name:   "missing file",
			want:   []string{"spec.tasks[0].with.providerFile: Invalid value"},
			detail: "cannot read it",
		},
		{
			name:   "unknown field",
			file:   "providers:\n- name: p\n  uri: http://x\n",
			want:   []string{"spec.tasks[0].with.providerFile: Invalid value"},
			detail: `unknown field "uri"`,
		},
		{
			name:   "no providers",
			file:   "providers: []\n",
			want:   []string{"spec.tasks[0].with.providerFile: Invalid value"},
			detail: "lists no providers",
		},
		{
			name:   "invalid provider in file",
			file:   "providers:\n- name: p\n  metrics: [{name: m, query: x}]\n",
			want:   []string{"spec.tasks[0].with.providerFile: Invalid value"},
			detail: "providers[0].url: Required value",
		},
		{
			name:   "name taken inline",
			file:   good,
			inline: []Provider{okProvider("filed")},
			want:   []string{"spec.tasks[0].with.providerFile: Invalid value"},
			detail: `providers[0].name: Duplicate value: "filed"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(dir, "providers.yaml"), []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			task := Task{Providers: tc.inline, ProviderFile: "providers.yaml"}
			errs := experiment.Prepare(&task, &experiment.ValidationContext{Versions: []string{"v1"}, Dir: dir}, withPath)
			if diff := cmp.Diff(tc.want, problems(errs)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if tc.detail != "" && (len(errs) == 0 || !strings.Contains(errs[0].Detail, tc.detail)) {
				t.Errorf("errors = %v, want the first to say %q", errs, tc.detail)
			}
			if tc.want == nil {
				if diff := cmp.Diff(tc.wantInfo, task.Metrics()); diff != "" {
					t.Errorf("Metrics (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestQueryData(t *testing.T) {
	start := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	task := Task{
		Values:   map[string]string{"ns": "default", "label": "common"},
		Versions: map[string]VersionValues{"v2": {Values: map[string]string{"label": "canary"}}},
	}
	tests := []struct {
		name    string
		version string
		elapsed time.Duration
		want    QueryData
	}{
		{
			name: "common values", version: "v1", elapsed: 95 * time.Second,
			want: QueryData{Version: "v1", Values: map[string]string{"ns": "default", "label": "common"}, Elapsed: "95s", StartTime: start.Unix()},
		},
		{
			name: "version values override", version: "v2", elapsed: 95*time.Second + time.Millisecond,
			want: QueryData{Version: "v2", Values: map[string]string{"ns": "default", "label": "canary"}, Elapsed: "96s", StartTime: start.Unix()},
		},
		{
			name: "at least one second", version: "v1", elapsed: 0,
			want: QueryData{Version: "v1", Values: map[string]string{"ns": "default", "label": "common"}, Elapsed: "1s", StartTime: start.Unix()},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := task.queryData(tc.version, start, start.Add(tc.elapsed))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("queryData (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRender(t *testing.T) {
	m := Metric{Name: "m", Query: `sum(increase(app_requests_total{version="{{.Values.label}}",app="{{.Version}}"}[{{.Elapsed}}])) @ {{.StartTime}}`}
	task := Task{}
	if errs := task.validateQuery(&m, nil, field.NewPath("query")); len(errs) > 0 {
		t.Fatalf("validateQuery: %v", errs)
	}
	got, err := m.render(QueryData{Version: "v1", Values: map[string]string{"label": "blue"}, Elapsed: "95s", StartTime: 1782907200})
	if err != nil {
		t.Fatal(err)
	}
	want := `sum(increase(app_requests_total{version="blue",app="v1"}[95s])) @ 1782907200`
	if got != want {
		t.Errorf("render = %q, want %q", got, want)
	}
}
