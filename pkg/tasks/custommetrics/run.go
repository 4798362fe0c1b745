package custommetrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// maxResponse bounds the size of a query response read into memory.
const maxResponse = 16 << 20

// Run queries every metric of every provider for every version and records
// the values. A query that returns no series, or a value that is not a
// finite number (e.g. 0/0 with no traffic), leaves the metric without a
// value for that version and adds a note; failed queries are errors, and
// the other queries still run. Every query of a run sees the same elapsed
// time, so versions are compared over the same window.
func (t *Task) Run(ctx context.Context, r *experiment.Run) error {
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	at := now()
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer client.CloseIdleConnections()

	var errs []error
	for _, p := range t.providers() {
		cred, err := p.Auth.credentials()
		if err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", p.Name, err))
			continue
		}
		for _, v := range r.Result.VersionNames() {
			data := t.queryData(v, r.Result.StartTime, at)
			for _, m := range p.Metrics {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("querying %s: %w", p.Name, err)
				}
				info := m.info(p.Name)
				out, err := t.measure(ctx, client, &p, &m, cred, data)
				for _, n := range out.notes {
					addNote(r, fmt.Sprintf("%s of version %s: %s", info.Name, v, n))
				}
				if err == nil && out.ok {
					err = r.Result.Record(v, info, out.value)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s of version %s: %w", info.Name, v, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func addNote(r *experiment.Run, note string) {
	if r.TaskIndex < len(r.Result.Tasks) {
		st := &r.Result.Tasks[r.TaskIndex]
		st.Notes = append(st.Notes, note)
	}
	fmt.Fprintf(r.Progress, "%s: %s\n", Name, note)
}

// outcome is what one query yields.
type outcome struct {
	// value is the metric's value when ok.
	value float64
	// ok is false when the query gave no value.
	ok bool
	// notes are warnings and why there is no value.
	notes []string
}

// measure renders a metric's query for a version, sends it and extracts the
// value.
func (t *Task) measure(ctx context.Context, client *http.Client, p *Provider, m *Metric, cred credentials, data QueryData) (outcome, error) {
	query, err := m.render(data)
	if err != nil {
		return outcome{}, fmt.Errorf("rendering the query: %w", err)
	}
	qctx, cancel := context.WithTimeout(ctx, t.Timeout.Duration)
	defer cancel()
	req, err := p.request(qctx, cred, query)
	if err != nil {
		return outcome{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return outcome{}, fmt.Errorf("no answer from %s within %s", p.URL, t.Timeout.Duration)
		}
		return outcome{}, fmt.Errorf("querying %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return outcome{}, fmt.Errorf("reading the response of %s: %w", p.URL, err)
	}
	if len(body) > maxResponse {
		return outcome{}, fmt.Errorf("the response of %s is larger than %d MiB", p.URL, maxResponse>>20)
	}
	return extract(resp.StatusCode, body, m.JSONPath)
}

// request builds the HTTP request of an instant query.
func (p *Provider) request(ctx context.Context, cred credentials, query string) (*http.Request, error) {
	var req *http.Request
	var err error
	if p.Method == http.MethodPost {
		form := url.Values{"query": {query}}.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(form))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		var u *url.URL
		if u, err = url.Parse(p.URL); err == nil {
			q := u.Query()
			q.Set("query", query)
			u.RawQuery = q.Encode()
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	cred.apply(req)
	return req, nil
}

// credentials are a provider's secrets, read when the task runs. They are
// never formatted into errors or notes.
type credentials struct {
	bearer         string
	basic          bool
	user, password string
}

func (c credentials) apply(req *http.Request) {
	switch {
	case c.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	case c.basic:
		req.SetBasicAuth(c.user, c.password)
	}
}

// credentials reads the secrets named by a; errors name where they were
// looked for, never what was found.
func (a *Auth) credentials() (credentials, error) {
	switch {
	case a.BearerTokenEnv != "":
		tok, err := lookupEnv(a.BearerTokenEnv, "auth.bearerTokenEnv")
		return credentials{bearer: tok}, err
	case a.BearerTokenFile != "":
		b, err := os.ReadFile(a.tokenPath)
		if err != nil {
			return credentials{}, fmt.Errorf("reading auth.bearerTokenFile: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return credentials{}, fmt.Errorf("auth.bearerTokenFile %s is empty", a.tokenPath)
		}
		return credentials{bearer: tok}, nil
	case a.BasicAuth != nil:
		user, err := lookupEnv(a.BasicAuth.UsernameEnv, "auth.basicAuth.usernameEnv")
		if err != nil {
			return credentials{}, err
		}
		pw, err := lookupEnv(a.BasicAuth.PasswordEnv, "auth.basicAuth.passwordEnv")
		return credentials{basic: true, user: user, password: pw}, err
	}
	return credentials{}, nil
}

// lookupEnv reads a non-empty environment variable; field names the
// parameter that names it.
func lookupEnv(name, field string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fmt.Errorf("environment variable %s (%s) is not set or empty", name, field)
	}
	return v, nil
}

// envelope is the frame of every Prometheus API response.
type envelope struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

// extract reads a metric's value from a query response with the given
// HTTP status code. An empty jsonPath means the default (see
// Metric.JSONPath).
func extract(code int, body []byte, jsonPath string) (outcome, error) {
	var env envelope
	jsonErr := json.Unmarshal(body, &env)
	switch {
	case jsonErr == nil && env.Status == "error":
		// Prometheus sends its errors with 4xx and 5xx codes.
		return outcome{}, fmt.Errorf("the query failed: %s: %s", env.ErrorType, env.Error)
	case code == http.StatusNotFound:
		return outcome{}, fmt.Errorf("HTTP %d %s: is url the query endpoint, e.g. http://prometheus:9090/api/v1/query?", code, http.StatusText(code))
	case code < 200 || code > 299:
		return outcome{}, fmt.Errorf("HTTP %d %s", code, http.StatusText(code))
	case jsonErr != nil:
		return outcome{}, fmt.Errorf("the response is not a Prometheus API response: %w", jsonErr)
	case env.Status != "success":
		return outcome{}, fmt.Errorf("the response's status is %q, not success", env.Status)
	}
	var out outcome
	for _, w := range env.Warnings {
		out.notes = append(out.notes, "warning: "+w)
	}
	series := env.Data.ResultType == "vector" || env.Data.ResultType == "matrix"
	if series && len(env.Data.Result) == 0 {
		out.notes = append(out.notes, "no value: the query returned no series")
		return out, nil
	}
	if jsonPath == "" {
		switch env.Data.ResultType {
		case "vector":
			if n := len(env.Data.Result); n > 1 {
				return out, fmt.Errorf("the query returned %d series; aggregate them into one (e.g. with sum) or set jsonPath", n)
			}
			jsonPath = "$.data.result[0].value[1]"
		case "scalar", "string":
			jsonPath = "$.data.result[1]"
		default:
			return out, fmt.Errorf("the query returned a %q result; use an instant-vector query or set jsonPath", env.Data.ResultType)
		}
	}
	x, err := pick(body, jsonPath)
	if err != nil {
		return out, err
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		out.notes = append(out.notes, fmt.Sprintf("no value: the query returned %g, not a finite number", x))
		return out, nil
	}
	out.value, out.ok = x, true
	return out, nil
}

// pick evaluates jsonPath on a JSON document; it must find exactly one
// number or numeric string.
func pick(body []byte, jsonPath string) (float64, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return 0, fmt.Errorf("the response is not JSON: %w", err)
	}
	j, err := parseJSONPath(jsonPath)
	if err != nil {
		return 0, err
	}
	results, err := j.FindResults(doc)
	if err != nil {
		return 0, fmt.Errorf("jsonPath %s: %w", jsonPath, err)
	}
	var found []reflect.Value
	for _, r := range results {
		found = append(found, r...)
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("jsonPath %s found %d values, want one", jsonPath, len(found))
	}
	var s string
	switch v := found[0].Interface().(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, fmt.Errorf("jsonPath %s found %v, not a number", jsonPath, v)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("jsonPath %s found %q, not a number", jsonPath, s)
	}
	return x, nil
}
