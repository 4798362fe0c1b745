package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks/assess"
	"github.com/iter8-tools/iter8/pkg/tasks/notify"
)

// record is a test task that records test/value for each version, from its
// values parameter.
type record struct {
	Values map[string]float64 `json:"values"`
}

var valueInfo = experiment.MetricInfo{Name: "test/value", Type: experiment.Gauge}

func (t *record) Validate(*experiment.ValidationContext, *field.Path) field.ErrorList { return nil }

func (t *record) Metrics() []experiment.MetricInfo { return []experiment.MetricInfo{valueInfo} }

func (t *record) Run(_ context.Context, r *experiment.Run) error {
	for v, x := range t.Values {
		if err := r.Result.Record(v, valueInfo, x); err != nil {
			return err
		}
	}
	return nil
}

var registry = experiment.Registry{
	"record":    func() experiment.Task { return &record{} },
	assess.Name: assess.New,
	notify.Name: notify.New,
}

// request is what the webhook received.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// webhook is a server on 127.0.0.1 that records the requests it gets and
// answers with status and answer. Its settings are fixed before it starts.
type webhook struct {
	*httptest.Server
	status int
	answer string
	// mode "hang" answers only when the client goes away; "drop" closes
	// the connection without an answer.
	mode string

	mu       sync.Mutex
	requests []request
}

func newWebhook(t *testing.T, status int, answer, mode string) *webhook {
	t.Helper()
	w := &webhook{status: status, answer: answer, mode: mode}
	w.Server = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.requests = append(w.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	w.mu.Unlock()
	switch w.mode {
	case "hang":
		<-r.Context().Done()
		return
	case "drop":
		conn, _, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		conn.Close()
		return
	}
	rw.WriteHeader(w.status)
	io.WriteString(rw, w.answer)
}

func (w *webhook) received() []request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]request(nil), w.requests...)
}

// hostOf returns the host:port of a URL.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// experimentDoc is an experiment over v1 and v2 that records test/value
// (v1 10, v2 v2Value), assesses test/value <= 20, then runs notify with the
// given if: condition and parameters.
func experimentDoc(v2Value float64, cond, with string) string {
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata:
  name: notify-test
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
  - task: record
    with:
      values: {v1: 10, v2: %g}
  - task: assess
    with:
      SLOs:
        upper:
        - metric: test/value
          limit: 20
  - task: notify
`, v2Value)
	if cond != "" {
		doc += "    if: " + cond + "\n"
	}
	doc += "    with:\n"
	for _, line := range strings.Split(strings.TrimSpace(with), "\n") {
		doc += "      " + strings.TrimSpace(line) + "\n"
	}
	return doc
}

// run parses and executes doc.
func run(t *testing.T, doc string) *experiment.Result {
	t.Helper()
	exp, err := experiment.Parse("notify-test.yaml", t.TempDir(), []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := experiment.Execute(context.Background(), exp, experiment.Options{Now: func() time.Time { return start }})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// outcome is what a test checks of a run.
type outcome struct {
	Failed bool
	State  experiment.TaskState
	Error  string
	Notes  []string
}

func outcomeOf(res *experiment.Result) outcome {
	st := res.Tasks[2]
	return outcome{Failed: res.Failed, State: st.State, Error: st.Error, Notes: st.Notes}
}

func ptr(x float64) *float64 { return &x }

func TestGitHubDispatch(t *testing.T) {
	hook := newWebhook(t, http.StatusNoContent, "", "")
	t.Setenv("NOTIFY_TEST_TOKEN", "s3cr3t\n")
	res := run(t, experimentDoc(30, "", fmt.Sprintf(`
		url: %s/repos/o/r/dispatches
		format: github
		eventType: iter8-done
		tokenEnv: NOTIFY_TEST_TOKEN`, hook.URL)))

	if diff := cmp.Diff(outcome{State: experiment.TaskSucceeded}, outcomeOf(res)); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	reqs := hook.received()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	gotHeaders := map[string]string{}
	for _, k := range []string{"Authorization", "Accept", "Content-Type"} {
		gotHeaders[k] = req.Header.Get(k)
	}
	wantHeaders := map[string]string{
		"Authorization": "Bearer s3cr3t",
		"Accept":        "application/vnd.github+json",
		"Content-Type":  "application/json",
	}
	if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if req.Method != http.MethodPost || req.Path != "/repos/o/r/dispatches" {
		t.Errorf("got %s %s, want POST /repos/o/r/dispatches", req.Method, req.Path)
	}

	var got struct {
		EventType     string         `json:"event_type"`
		ClientPayload notify.Summary `json:"client_payload"`
	}
	if err := json.Unmarshal(req.Body, &got); err != nil {
		t.Fatalf("body %s: %v", req.Body, err)
	}
	if got.EventType != "iter8-done" {
		t.Errorf("event_type = %q, want iter8-done", got.EventType)
	}
	want := notify.Summary{
		Experiment:    "notify-test",
		Iteration:     1,
		Completed:     true,
		SLOsSatisfied: false,
		Versions: []notify.VersionSummary{
			{Name: "v1", Metrics: map[string]float64{"test/value": 10}, SLOsSatisfied: true},
			{Name: "v2", Metrics: map[string]float64{"test/value": 30}, SLOsSatisfied: false},
		},
		SLOs: []notify.SLOSummary{
			{Metric: "test/value", Upper: ptr(20), Objective: "test/value <= 20", Satisfied: map[string]bool{"v1": true, "v2": false}},
		},
		Tasks: []notify.TaskSummary{
			{Task: "record", State: experiment.TaskSucceeded},
			{Task: "assess", State: experiment.TaskSucceeded},
			{Task: "notify", State: experiment.TaskRunning},
		},
	}
	if diff := cmp.Diff(want, got.ClientPayload); diff != "" {
		t.Errorf("client_payload (-want +got):\n%s", diff)
	}
}

func TestCustomPayload(t *testing.T) {
	hook := newWebhook(t, http.StatusOK, "ok", "")
	t.Setenv("NOTIFY_TEST_URL", hook.URL+"/hooks/abc")
	res := run(t, experimentDoc(15, "", `
		urlEnv: NOTIFY_TEST_URL
		method: PUT
		headers: {X-Team: checkout, Content-Type: application/vnd.team+json}
		format: custom
		payloadTemplate: '{"experiment": {{json .Experiment}}, "winners": {{json .SatisfyingVersions}}, "ok": {{.SLOsSatisfied}}}'`))

	if diff := cmp.Diff(outcome{State: experiment.TaskSucceeded}, outcomeOf(res)); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	reqs := hook.received()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	got := map[string]any{
		"method":       reqs[0].Method,
		"path":         reqs[0].Path,
		"x-team":       reqs[0].Header.Get("X-Team"),
		"content-type": reqs[0].Header.Get("Content-Type"),
		"auth":         reqs[0].Header.Get("Authorization"),
	}
	var body any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatalf("body %s: %v", reqs[0].Body, err)
	}
	got["body"] = body
	want := map[string]any{
		"method":       "PUT",
		"path":         "/hooks/abc",
		"x-team":       "checkout",
		"content-type": "application/vnd.team+json",
		"auth":         "",
		"body":         map[string]any{"experiment": "notify-test", "winners": []any{"v1", "v2"}, "ok": true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestFailures(t *testing.T) {
	const token = "s3cr3t-token"
	tests := []struct {
		name   string
		status int
		answer string
		mode   string
		// with are the parameters; {url} stands for the webhook's URL.
		with string
		// env sets environment variables; {url} as in with.
		env map[string]string
		// want is the outcome; {host} stands for the webhook's host:port.
		want outcome
		// requests is how many requests the webhook should get.
		requests int
	}{
		{
			name:   "server error fails the task",
			status: http.StatusInternalServerError,
			answer: "boom\n",
			with:   "url: {url}/hook\ntokenEnv: NOTIFY_TEST_TOKEN",
			want: outcome{
				Failed: true,
				State:  experiment.TaskFailed,
				Error:  `notifying {host}: the server answered 500 Internal Server Error: "boom"`,
			},
			requests: 1,
		},
		{
			name:   "softFailure turns it into a note",
			status: http.StatusInternalServerError,
			with:   "url: {url}/hook\ntokenEnv: NOTIFY_TEST_TOKEN\nsoftFailure: true",
			want: outcome{
				State: experiment.TaskSucceeded,
				Notes: []string{`notification not sent: notifying {host}: the server answered 500 Internal Server Error`},
			},
			requests: 1,
		},
		{
			name:   "redirects are not followed",
			status: http.StatusFound,
			with:   "url: {url}/hook\ntokenEnv: NOTIFY_TEST_TOKEN",
			want: outcome{
				Failed: true,
				State:  experiment.TaskFailed,
				Error:  `notifying {host}: the server answered 302 Found`,
			},
			requests: 1,
		},
		{
			name: "timeout",
			mode: "hang",
			with: "url: {url}/hook\ntimeout: 50ms",
			want: outcome{
				Failed: true,
				State:  experiment.TaskFailed,
				Error:  `notifying {host}: no answer within 50ms: context deadline exceeded`,
			},
			requests: 1,
		},
		{
			name: "connection dropped, with the URL in an environment variable",
			mode: "drop",
			with: "urlEnv: NOTIFY_TEST_URL\nsoftFailure: true",
			env:  map[string]string{"NOTIFY_TEST_URL": "{url}/services/secret-path"},
			want: outcome{
				State: experiment.TaskSucceeded,
				Notes: []string{`notification not sent: notifying {host}: EOF`},
			},
			requests: 1,
		},
		{
			name: "urlEnv not set",
			with: "urlEnv: NOTIFY_TEST_URL",
			want: outcome{
				Failed: true,
				State:  experiment.TaskFailed,
				Error:  `environment variable NOTIFY_TEST_URL (urlEnv) is not set`,
			},
		},
		{
			name: "urlEnv not a URL, and not quoted",
			with: "urlEnv: NOTIFY_TEST_URL",
			env:  map[string]string{"NOTIFY_TEST_URL": "hooks.example.com/secret-path"},
			want: outcome{
				Failed: true,
				State:  experiment.TaskFailed,
				Error:  `environment variable NOTIFY_TEST_URL (urlEnv): must be an absolute http or https URL`,
			},
		},
		{
			name: "token not set",
			with: "url: {url}/hook\ntokenEnv: NOTIFY_TEST_UNSET",
			want: outcome{
				Failed: true,
				State:  experiment.TaskFailed,
				Error:  `environment variable NOTIFY_TEST_UNSET (tokenEnv) is not set`,
			},
		},
		{
			name: "token not set, with softFailure",
			with: "url: {url}/hook\ntokenEnv: NOTIFY_TEST_UNSET\nsoftFailure: true",
			want: outcome{
				State: experiment.TaskSucceeded,
				Notes: []string{`notification not sent: environment variable NOTIFY_TEST_UNSET (tokenEnv) is not set`},
			},
		},
		{
			name: "payload that is not JSON, with softFailure",
			with: "url: {url}/hook\nformat: custom\npayloadTemplate: '{\"text\": {{.Experiment}}}'\nsoftFailure: true",
			want: outcome{
				State: experiment.TaskSucceeded,
				Notes: []string{`notification not sent: payloadTemplate did not render JSON: invalid character 'o' in literal null (expecting 'u')`},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hook := newWebhook(t, tc.status, tc.answer, tc.mode)
			in := strings.NewReplacer("{url}", hook.URL)
			out := strings.NewReplacer("{host}", hostOf(t, hook.URL))
			t.Setenv("NOTIFY_TEST_TOKEN", token)
			t.Setenv("NOTIFY_TEST_UNSET", "")
			t.Setenv("NOTIFY_TEST_URL", "")
			for k, v := range tc.env {
				t.Setenv(k, in.Replace(v))
			}
			res := run(t, experimentDoc(10, "", in.Replace(tc.with)))

			want := tc.want
			want.Error = out.Replace(want.Error)
			for i, n := range want.Notes {
				want.Notes[i] = out.Replace(n)
			}
			if diff := cmp.Diff(want, outcomeOf(res)); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			if got := len(hook.received()); got != tc.requests {
				t.Errorf("got %d requests, want %d", got, tc.requests)
			}
			saved, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{token, "secret-path"} {
				if strings.Contains(string(saved), secret) {
					t.Errorf("the result holds %q: %s", secret, saved)
				}
			}
		})
	}
}

// TestIfNotSLOs runs an experiment whose notify has `if: not slos` twice:
// it notifies only when a version breaks an SLO.
func TestIfNotSLOs(t *testing.T) {
	tests := []struct {
		name   string
		v2     float64
		want   outcome
		bodies []any
	}{
		{
			name: "SLOs satisfied: skipped",
			v2:   15,
			want: outcome{State: experiment.TaskSkipped, Error: `condition "not slos" is false`},
		},
		{
			name: "an SLO not satisfied: notified",
			v2:   30,
			want: outcome{State: experiment.TaskSucceeded},
			bodies: []any{map[string]any{
				"text": "Experiment notify-test completed (iteration 1). Versions satisfying all SLOs: v1.",
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hook := newWebhook(t, http.StatusOK, "ok", "")
			res := run(t, experimentDoc(tc.v2, "not slos", "url: "+hook.URL))
			if diff := cmp.Diff(tc.want, outcomeOf(res)); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			var bodies []any
			for _, r := range hook.received() {
				var b any
				if err := json.Unmarshal(r.Body, &b); err != nil {
					t.Fatalf("body %s: %v", r.Body, err)
				}
				bodies = append(bodies, b)
			}
			if diff := cmp.Diff(tc.bodies, bodies); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrorsName(t *testing.T) {
	doc := experimentDoc(10, "", "format: slack\nmethod: DELETE\ntext: '{{.Experiment'")
	_, err := experiment.Parse("notify-test.yaml", t.TempDir(), []byte(doc), registry)
	want := `notify-test.yaml is not a valid experiment (3 problems):
  notify-test.yaml:19: spec.tasks[2].with.url: Required value: the webhook's absolute http or https URL, or urlEnv naming an environment variable that holds it
  notify-test.yaml:20: spec.tasks[2].with.method: Unsupported value: "DELETE": supported values: "POST", "PUT", "PATCH"
  notify-test.yaml:21: spec.tasks[2].with.text: Invalid value: template: spec.tasks[2].with.text:1: unclosed action`
	got := "<nil>"
	if err != nil {
		got = err.Error()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
