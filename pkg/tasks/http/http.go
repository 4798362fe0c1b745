// Package http is the http task: HTTP load against each version with fortio
// used as a library, recording iter8's metric family under http/.
package http

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/internal/load"
	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Name is the task's name in experiment.yaml.
const Name = "http"

// Defaults of the task's parameters.
const (
	DefaultNumRequests = 100
	DefaultConnections = 4
	DefaultTimeout     = 3 * time.Second
)

// Task is the http task's parameters.
//
//	tasks:
//	- task: http
//	  with:
//	    qps: 100
//	    duration: 30s
//	    versions:
//	      v1: {url: http://app-v1.default/}
//	      v2: {url: http://app-v2.default/}
type Task struct {
	// URL is the endpoint for every version without its own.
	URL string `json:"url,omitempty"`
	// Method is the HTTP method; default GET, or POST with a payload.
	Method string `json:"method,omitempty"`
	// Headers are sent with every request.
	Headers map[string]string `json:"headers,omitempty"`
	// Payload is the request body.
	Payload string `json:"payload,omitempty"`
	// PayloadFile is a file whose content is the request body, relative to
	// the experiment file.
	PayloadFile string `json:"payloadFile,omitempty"`
	// ContentType is the body's media type.
	ContentType string `json:"contentType,omitempty"`
	// QPS is the target rate in requests per second across all
	// connections; 0 sends as fast as possible.
	QPS float64 `json:"qps,omitempty"`
	// Duration is how long to send load to each version. Exclusive with
	// NumRequests.
	Duration *experiment.Duration `json:"duration,omitempty"`
	// NumRequests is how many requests to send to each version; default
	// 100 when Duration is not set.
	NumRequests int64 `json:"numRequests,omitempty"`
	// Connections is the number of parallel connections; default 4.
	Connections int `json:"connections,omitempty"`
	// Timeout bounds each request; default 3s.
	Timeout *experiment.Duration `json:"timeout,omitempty"`
	// Warmup is a number of requests sent to each version before the
	// measured ones and excluded from the results.
	Warmup int64 `json:"warmup,omitempty"`
	// ErrorRanges are the HTTP status codes that count as errors; default
	// 400 and above. Connection errors and timeouts always count.
	ErrorRanges []StatusRange `json:"errorRanges,omitempty"`
	// Percentiles are latency percentiles to record beyond 50, 90, 95, 99
	// and 99.9.
	Percentiles []float64 `json:"percentiles,omitempty"`
	// HTTP2 uses HTTP/2 (through the standard Go client; https only).
	HTTP2 bool `json:"http2,omitempty"`
	// CAFile is a PEM file of the CA certificates that sign an https
	// server's certificate, relative to the experiment file.
	CAFile string `json:"caFile,omitempty"`
	// InsecureSkipVerify turns off verification of https certificates.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// Versions overrides the endpoint per version.
	Versions map[string]Endpoint `json:"versions,omitempty"`

	payload []byte
	caFile  string
}

// Endpoint is where one version is reached.
type Endpoint struct {
	// URL of the version; overrides the task's URL.
	URL string `json:"url,omitempty"`
	// Headers are added to (and override) the task's headers.
	Headers map[string]string `json:"headers,omitempty"`
}

// StatusRange is an inclusive range of HTTP status codes; a missing bound is
// open.
type StatusRange struct {
	// Lower is the smallest code in the range.
	Lower *int `json:"lower,omitempty"`
	// Upper is the largest code in the range.
	Upper *int `json:"upper,omitempty"`
}

func (s StatusRange) contains(code int) bool {
	return (s.Lower == nil || code >= *s.Lower) && (s.Upper == nil || code <= *s.Upper)
}

// New returns the zero parameters of the task.
func New() experiment.Task { return &Task{} }

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Validate checks the parameters as written.
func (t *Task) Validate(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(t.Versions)) {
		if !slices.Contains(vc.Versions, name) {
			errs = append(errs, field.NotSupported(path.Child("versions").Key(name), name, vc.Versions))
		}
	}
	for _, v := range vc.Versions {
		ep := t.endpoint(v)
		p := path.Child("url")
		if _, ok := t.Versions[v]; ok && t.Versions[v].URL != "" {
			p = path.Child("versions").Key(v).Child("url")
		}
		if ep.URL == "" {
			errs = append(errs, field.Required(p, fmt.Sprintf("version %s needs a URL: set url, or versions.%s.url", v, v)))
			continue
		}
		if u, err := url.Parse(ep.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, field.Invalid(p, ep.URL, "must be an absolute http:// or https:// URL"))
		}
	}
	if t.Method != "" && !slices.Contains(methods, strings.ToUpper(t.Method)) {
		errs = append(errs, field.NotSupported(path.Child("method"), t.Method, methods))
	}
	if t.Payload != "" && t.PayloadFile != "" {
		errs = append(errs, field.Forbidden(path.Child("payloadFile"), "set payload or payloadFile, not both"))
	}
	if t.QPS < 0 {
		errs = append(errs, field.Invalid(path.Child("qps"), t.QPS, "must be 0 (as fast as possible) or more"))
	}
	if t.Duration != nil && t.NumRequests != 0 {
		errs = append(errs, field.Forbidden(path.Child("numRequests"), "set duration or numRequests, not both"))
	}
	if t.Duration != nil && t.Duration.Duration == 0 {
		errs = append(errs, field.Invalid(path.Child("duration"), t.Duration.String(), "must be more than 0"))
	}
	if t.NumRequests < 0 {
		errs = append(errs, field.Invalid(path.Child("numRequests"), t.NumRequests, "must be 1 or more"))
	}
	if t.Connections < 0 {
		errs = append(errs, field.Invalid(path.Child("connections"), t.Connections, "must be 1 or more"))
	}
	if t.Timeout != nil && t.Timeout.Duration == 0 {
		errs = append(errs, field.Invalid(path.Child("timeout"), t.Timeout.String(), "must be more than 0"))
	}
	if t.Warmup < 0 {
		errs = append(errs, field.Invalid(path.Child("warmup"), t.Warmup, "must be 0 or more"))
	}
	for i, r := range t.ErrorRanges {
		p := path.Child("errorRanges").Index(i)
		switch {
		case r.Lower == nil && r.Upper == nil:
			errs = append(errs, field.Required(p, "lower, upper or both"))
		case r.Lower != nil && r.Upper != nil && *r.Lower > *r.Upper:
			errs = append(errs, field.Invalid(p.Child("upper"), *r.Upper, "must not be below lower"))
		}
	}
	for i, p := range t.Percentiles {
		if p <= 0 || p > 100 {
			errs = append(errs, field.Invalid(path.Child("percentiles").Index(i), p, "must be above 0 and at most 100"))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
		errs = append(errs, experiment.ValidateHeaderName(path.Child("headers").Key(k), k)...)
	}
	return errs
}

// Default fills in what the parameters leave out (experiment.Defaulter).
func (t *Task) Default() {
	if t.Duration == nil && t.NumRequests == 0 {
		t.NumRequests = DefaultNumRequests
	}
	if t.Connections == 0 {
		t.Connections = DefaultConnections
	}
	if t.Timeout == nil {
		t.Timeout = &experiment.Duration{Duration: DefaultTimeout}
	}
	if len(t.ErrorRanges) == 0 {
		t.ErrorRanges = []StatusRange{{Lower: ptr(400)}}
	}
}

// Load reads the payload file and finds the CA file, relative to the
// experiment's folder (experiment.Loader).
func (t *Task) Load(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	t.payload = []byte(t.Payload)
	if t.PayloadFile != "" {
		b, err := os.ReadFile(experiment.ResolvePath(vc.Dir, t.PayloadFile))
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("payloadFile"), t.PayloadFile, fmt.Sprintf("cannot read it: %v", err)))
		}
		t.payload = b
	}
	if t.CAFile != "" {
		t.caFile = experiment.ResolvePath(vc.Dir, t.CAFile)
		if _, err := os.Stat(t.caFile); err != nil {
			errs = append(errs, field.Invalid(path.Child("caFile"), t.CAFile, fmt.Sprintf("cannot read it: %v", err)))
		}
	}
	return errs
}

func ptr[T any](v T) *T { return &v }

// Files are the payload and CA files the task reads.
func (t *Task) Files() []experiment.FileInput {
	var in []experiment.FileInput
	if t.PayloadFile != "" {
		in = append(in, experiment.FileInput{Field: "payloadFile", Path: t.PayloadFile})
	}
	if t.CAFile != "" {
		in = append(in, experiment.FileInput{Field: "caFile", Path: t.CAFile})
	}
	return in
}

// endpoint returns a version's URL and headers, with overrides applied.
func (t *Task) endpoint(version string) Endpoint {
	ep := Endpoint{URL: t.URL, Headers: map[string]string{}}
	for k, v := range t.Headers {
		ep.Headers[k] = v
	}
	if o, ok := t.Versions[version]; ok {
		if o.URL != "" {
			ep.URL = o.URL
		}
		for k, v := range o.Headers {
			ep.Headers[k] = v
		}
	}
	return ep
}

// Metrics returns the http/ metric family; with a target rate, also the
// late and dropped requests and the latency from the intended start.
func (t *Task) Metrics() []experiment.MetricInfo {
	return load.MetricInfos(Name, t.Percentiles, t.QPS > 0)
}

// Run load-tests each version in turn.
func (t *Task) Run(ctx context.Context, r *experiment.Run) error {
	for _, v := range r.Result.VersionNames() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := t.runVersion(ctx, r, v); err != nil {
			return fmt.Errorf("version %s: %w", v, err)
		}
	}
	return nil
}
