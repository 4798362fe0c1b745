// Package custommetrics is the custommetrics task: it queries
// Prometheus-compatible HTTP APIs (instant queries) with PromQL templates
// rendered per version and records each result as the metric
// <provider>/<metric> of that version.
package custommetrics

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Name is the task's name in experiment.yaml.
const Name = "custommetrics"

// DefaultTimeout bounds each query when the timeout parameter is not set.
const DefaultTimeout = 30 * time.Second

// Task is the custommetrics task's parameters, e.g.
//
//	task: custommetrics
//	with:
//	  providers:
//	  - name: prometheus
//	    url: http://prometheus.istio-system:9090/api/v1/query
//	    metrics:
//	    - name: request-count
//	      type: counter
//	      query: sum(increase(istio_requests_total{destination_workload="{{.Values.workload}}"}[{{.Elapsed}}]))
//	  versions:
//	    v1: {values: {workload: app-v1}}
//	    v2: {values: {workload: app-v2}}
type Task struct {
	// Providers are the metrics APIs to query and their metrics.
	Providers []Provider `json:"providers,omitempty"`
	// ProviderFile is a YAML file with a providers list in the same form,
	// relative to the experiment file; its providers follow those of
	// Providers. It is read when the experiment is validated.
	ProviderFile string `json:"providerFile,omitempty"`
	// Values are template values for every version.
	Values map[string]string `json:"values,omitempty"`
	// Versions holds template values per version; they add to and override
	// Values. Keys are version names.
	Versions map[string]VersionValues `json:"versions,omitempty"`
	// Timeout bounds each query; default 30s.
	Timeout *experiment.Duration `json:"timeout,omitempty"`

	// fileProviders are the providers read from ProviderFile.
	fileProviders []Provider
	// now is the clock; nil means time.Now (tests fix it).
	now func() time.Time
}

// VersionValues are one version's template values.
type VersionValues struct {
	// Values are available to query templates as .Values.
	Values map[string]string `json:"values,omitempty"`
}

// Provider is one Prometheus-compatible query API and the metrics read
// from it.
type Provider struct {
	// Name is the first part of the provider's metric names: lowercase
	// letters, digits, '-' and '_', starting and ending with a letter or
	// digit.
	Name string `json:"name"`
	// URL is the instant-query endpoint, e.g.
	// http://prometheus:9090/api/v1/query. It must not hold credentials:
	// use Auth.
	URL string `json:"url"`
	// Method is GET (the query in the URL) or POST (the query in a form
	// body); default GET.
	Method string `json:"method,omitempty"`
	// Headers are sent with every query.
	Headers map[string]string `json:"headers,omitempty"`
	// Auth says where the credentials come from when the task runs.
	Auth Auth `json:"auth,omitempty"`
	// Metrics are the metrics read from this provider.
	Metrics []Metric `json:"metrics"`
}

// Auth names where a provider's credentials are read from, at run time; at
// most one of its fields may be set. The credentials themselves never
// appear in the experiment, its errors or its result.
type Auth struct {
	// BearerTokenEnv is an environment variable holding a bearer token.
	BearerTokenEnv string `json:"bearerTokenEnv,omitempty"`
	// BearerTokenFile is a file holding a bearer token, e.g. a Kubernetes
	// service account token; relative to the experiment file. It is read
	// for every run, so rotated tokens are picked up.
	BearerTokenFile string `json:"bearerTokenFile,omitempty"`
	// BasicAuth names environment variables with a user name and password.
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// tokenPath is BearerTokenFile resolved against the experiment's folder.
	tokenPath string
}

// BasicAuth names the environment variables of HTTP basic credentials.
type BasicAuth struct {
	// UsernameEnv is the environment variable holding the user name.
	UsernameEnv string `json:"usernameEnv"`
	// PasswordEnv is the environment variable holding the password.
	PasswordEnv string `json:"passwordEnv"`
}

// Metric is one query whose result is recorded per version.
type Metric struct {
	// Name is the second part of the metric's name, <provider>/<name>:
	// lowercase letters, digits, '-' and '_', starting and ending with a
	// letter or digit.
	Name string `json:"name"`
	// Type is counter or gauge; default gauge.
	Type experiment.MetricType `json:"type,omitempty"`
	// Unit is e.g. "ms" or "req/s"; empty for plain numbers.
	Unit string `json:"unit,omitempty"`
	// Description says what the metric measures.
	Description string `json:"description,omitempty"`
	// Query is a text/template rendered with QueryData into a PromQL query.
	Query string `json:"query"`
	// JSONPath picks the value from the response, in kubectl's JSONPath
	// syntax with or without the braces, e.g. $.data.result[0].value[1].
	// It must find exactly one number or numeric string. Default: the
	// value of the single series of an instant vector (the query must
	// return at most one series), or of a scalar.
	JSONPath string `json:"jsonPath,omitempty"`

	// tmpl is the parsed Query.
	tmpl *template.Template
}

// QueryData is what a query template sees, e.g.
// sum(increase(app_requests_total{version="{{.Values.label}}"}[{{.Elapsed}}])).
type QueryData struct {
	// Version is the version's name.
	Version string
	// Values are the version's template values (Values merged with
	// versions.<version>.values).
	Values map[string]string
	// Elapsed is the time since the experiment run started as a PromQL
	// duration in whole seconds, rounded up and at least 1s, e.g. "95s":
	// a range selector [{{.Elapsed}}] covers the run so far.
	Elapsed string
	// StartTime is when the experiment run started, in Unix seconds.
	StartTime int64
}

// New returns the zero parameters of the task.
func New() experiment.Task { return &Task{} }

// namePart is the form of provider and metric names.
var namePart = regexp.MustCompile(`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

const namePartMsg = "lowercase letters, digits, '-' and '_', starting and ending with a letter or digit"

var (
	methods     = []string{"GET", "POST"}
	metricTypes = []string{string(experiment.Counter), string(experiment.Gauge)}
)

// Validate checks the parameters, reads the provider file and sets
// defaults. Every query is rendered for every version, so a template that
// refers to a missing value fails here. Environment variables and token
// files named in auth are read only when the task runs, since an experiment
// may be validated on another machine than the one that runs it.
func (t *Task) Validate(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedKeys(t.Versions) {
		if !slices.Contains(vc.Versions, name) {
			errs = append(errs, field.NotSupported(path.Child("versions").Key(name), name, vc.Versions))
		}
	}
	if t.Timeout != nil && t.Timeout.Duration == 0 {
		errs = append(errs, field.Invalid(path.Child("timeout"), t.Timeout.String(), "must be more than 0"))
	}
	errs = append(errs, t.validateProviders(t.Providers, vc, path.Child("providers"), map[string]bool{})...)
	if len(t.Providers) == 0 && t.ProviderFile == "" {
		errs = append(errs, field.Required(path.Child("providers"), "at least one provider, here or in providerFile"))
	}
	return errs
}

// Default fills in the timeout (experiment.Defaulter).
func (t *Task) Default() {
	if t.Timeout == nil {
		t.Timeout = &experiment.Duration{Duration: DefaultTimeout}
	}
}

// Load reads the provider file, relative to the experiment's folder, and
// checks its providers as those written inline (experiment.Loader).
func (t *Task) Load(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	t.fileProviders = nil
	if t.ProviderFile == "" {
		return nil
	}
	fp := path.Child("providerFile")
	provs, err := readProviderFile(experiment.ResolvePath(vc.Dir, t.ProviderFile))
	if err != nil {
		return field.ErrorList{field.Invalid(fp, t.ProviderFile, err.Error())}
	}
	seen := map[string]bool{}
	for _, p := range t.Providers {
		seen[p.Name] = true
	}
	// Errors inside the file name the file's field and, in the message,
	// the path within the file.
	var errs field.ErrorList
	for _, e := range t.validateProviders(provs, vc, field.NewPath("providers"), seen) {
		errs = append(errs, field.Invalid(fp, t.ProviderFile, fmt.Sprintf("%s: %s", e.Field, e.ErrorBody())))
	}
	t.fileProviders = provs
	return errs
}

// validateProviders checks provs in place (filling in defaults); seen holds
// the provider names met so far.
func (t *Task) validateProviders(provs []Provider, vc *experiment.ValidationContext, path *field.Path, seen map[string]bool) field.ErrorList {
	var errs field.ErrorList
	for i := range provs {
		p := &provs[i]
		pp := path.Index(i)
		switch {
		case p.Name == "":
			errs = append(errs, field.Required(pp.Child("name"), namePartMsg))
		case seen[p.Name]:
			errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
		case !namePart.MatchString(p.Name):
			errs = append(errs, field.Invalid(pp.Child("name"), p.Name, "must be "+namePartMsg))
		}
		seen[p.Name] = true
		errs = append(errs, validateURL(p.URL, pp.Child("url"))...)
		if p.Method == "" {
			p.Method = "GET"
		} else if !slices.Contains(methods, p.Method) {
			errs = append(errs, field.NotSupported(pp.Child("method"), p.Method, methods))
		}
		for _, k := range sortedKeys(p.Headers) {
			hp := pp.Child("headers").Key(k)
			errs = append(errs, experiment.ValidateHeaderName(hp, k)...)
			if strings.EqualFold(k, "Authorization") && p.Auth.set() {
				errs = append(errs, field.Forbidden(hp, "set auth or an Authorization header, not both"))
			}
		}
		errs = append(errs, p.Auth.validate(vc.Dir, pp.Child("auth"))...)

		if len(p.Metrics) == 0 {
			errs = append(errs, field.Required(pp.Child("metrics"), "at least one metric"))
		}
		names := map[string]bool{}
		for j := range p.Metrics {
			m := &p.Metrics[j]
			mp := pp.Child("metrics").Index(j)
			switch {
			case m.Name == "":
				errs = append(errs, field.Required(mp.Child("name"), namePartMsg))
			case names[m.Name]:
				errs = append(errs, field.Duplicate(mp.Child("name"), m.Name))
			case !namePart.MatchString(m.Name):
				errs = append(errs, field.Invalid(mp.Child("name"), m.Name, "must be "+namePartMsg))
			default:
				if _, ok := vc.Metrics[p.Name+"/"+m.Name]; ok {
					errs = append(errs, field.Invalid(mp.Child("name"), m.Name, fmt.Sprintf("an earlier task already records %s/%s; rename the provider or the metric", p.Name, m.Name)))
				}
			}
			names[m.Name] = true
			if m.Type == "" {
				m.Type = experiment.Gauge
			} else if !slices.Contains(metricTypes, string(m.Type)) {
				errs = append(errs, field.NotSupported(mp.Child("type"), m.Type, metricTypes))
			}
			errs = append(errs, t.validateQuery(m, vc.Versions, mp.Child("query"))...)
			if m.JSONPath != "" {
				if _, err := parseJSONPath(m.JSONPath); err != nil {
					errs = append(errs, field.Invalid(mp.Child("jsonPath"), m.JSONPath, err.Error()))
				}
			}
		}
	}
	return errs
}

// validateQuery parses a metric's query template and renders it for every
// version.
func (t *Task) validateQuery(m *Metric, versions []string, path *field.Path) field.ErrorList {
	if m.Query == "" {
		return field.ErrorList{field.Required(path, "a PromQL query template")}
	}
	// A missing value is an error, not "<no value>" in the query.
	tmpl, err := template.New("query").Option("missingkey=error").Parse(m.Query)
	if err != nil {
		return field.ErrorList{field.Invalid(path, m.Query, err.Error())}
	}
	m.tmpl = tmpl
	for _, v := range versions {
		if _, err := m.render(t.queryData(v, time.Unix(0, 0), time.Unix(1, 0))); err != nil {
			return field.ErrorList{field.Invalid(path, m.Query, fmt.Sprintf("version %s: %v", v, err))}
		}
	}
	return nil
}

func validateURL(s string, path *field.Path) field.ErrorList {
	if s == "" {
		return field.ErrorList{field.Required(path, "the query endpoint, e.g. http://prometheus:9090/api/v1/query")}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return field.ErrorList{field.Invalid(path, s, "must be an absolute http:// or https:// URL")}
	}
	if u.User != nil {
		// The URL appears in errors; credentials must not.
		return field.ErrorList{field.Forbidden(path, "must not hold credentials: use auth")}
	}
	return nil
}

func (a *Auth) set() bool {
	return a.BearerTokenEnv != "" || a.BearerTokenFile != "" || a.BasicAuth != nil
}

// validate checks that at most one source is named and resolves the token
// file against dir.
func (a *Auth) validate(dir string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	var set []string
	if a.BearerTokenEnv != "" {
		set = append(set, "bearerTokenEnv")
		errs = append(errs, experiment.ValidateEnvName(path.Child("bearerTokenEnv"), a.BearerTokenEnv)...)
	}
	if a.BearerTokenFile != "" {
		set = append(set, "bearerTokenFile")
		a.tokenPath = experiment.ResolvePath(dir, a.BearerTokenFile)
	}
	if b := a.BasicAuth; b != nil {
		set = append(set, "basicAuth")
		bp := path.Child("basicAuth")
		if b.UsernameEnv == "" {
			errs = append(errs, field.Required(bp.Child("usernameEnv"), "the environment variable holding the user name"))
		} else {
			errs = append(errs, experiment.ValidateEnvName(bp.Child("usernameEnv"), b.UsernameEnv)...)
		}
		if b.PasswordEnv == "" {
			errs = append(errs, field.Required(bp.Child("passwordEnv"), "the environment variable holding the password"))
		} else {
			errs = append(errs, experiment.ValidateEnvName(bp.Child("passwordEnv"), b.PasswordEnv)...)
		}
	}
	if len(set) > 1 {
		for _, s := range set[1:] {
			errs = append(errs, field.Forbidden(path.Child(s), fmt.Sprintf("set one of bearerTokenEnv, bearerTokenFile and basicAuth; %s is already set", set[0])))
		}
	}
	return errs
}

// readProviderFile decodes a provider file strictly.
func readProviderFile(path string) ([]Provider, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	var f struct {
		Providers []Provider `json:"providers"`
	}
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("not a provider file: %w", err)
	}
	if len(f.Providers) == 0 {
		return nil, fmt.Errorf("lists no providers")
	}
	return f.Providers, nil
}

// Files is the provider file. A bearerTokenFile is not one: it is read
// where the experiment runs (in a cluster, typically the pod's own
// ServiceAccount token).
func (t *Task) Files() []experiment.FileInput {
	if t.ProviderFile == "" {
		return nil
	}
	return []experiment.FileInput{{Field: "providerFile", Path: t.ProviderFile}}
}

// Env are the variables of the providers' credentials.
func (t *Task) Env() []experiment.EnvInput {
	var in []experiment.EnvInput
	add := func(prefix string, provs []Provider) {
		for i, p := range provs {
			field := fmt.Sprintf("%sproviders[%d].auth.", prefix, i)
			if p.Auth.BearerTokenEnv != "" {
				in = append(in, experiment.EnvInput{Field: field + "bearerTokenEnv", Name: p.Auth.BearerTokenEnv})
			}
			if b := p.Auth.BasicAuth; b != nil {
				in = append(in, experiment.EnvInput{Field: field + "basicAuth.usernameEnv", Name: b.UsernameEnv},
					experiment.EnvInput{Field: field + "basicAuth.passwordEnv", Name: b.PasswordEnv})
			}
		}
	}
	add("", t.Providers)
	add("providerFile: ", t.fileProviders)
	return in
}

// providers returns every provider, inline ones first.
func (t *Task) providers() []Provider {
	return append(slices.Clip(t.Providers), t.fileProviders...)
}

// Metrics returns the declared metrics, named <provider>/<metric>.
func (t *Task) Metrics() []experiment.MetricInfo {
	var infos []experiment.MetricInfo
	for _, p := range t.providers() {
		for _, m := range p.Metrics {
			infos = append(infos, m.info(p.Name))
		}
	}
	return infos
}

func (m *Metric) info(provider string) experiment.MetricInfo {
	return experiment.MetricInfo{Name: provider + "/" + m.Name, Type: m.Type, Unit: m.Unit, Description: m.Description}
}

// render renders the metric's query; Validate parsed it.
func (m *Metric) render(data QueryData) (string, error) {
	var b bytes.Buffer
	if err := m.tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// queryData returns the template data of a version for a run that started
// at start, at time now.
func (t *Task) queryData(version string, start, now time.Time) QueryData {
	values := map[string]string{}
	for k, v := range t.Values {
		values[k] = v
	}
	for k, v := range t.Versions[version].Values {
		values[k] = v
	}
	secs := max(1, int64((now.Sub(start)+time.Second-1)/time.Second))
	return QueryData{Version: version, Values: values, Elapsed: fmt.Sprintf("%ds", secs), StartTime: start.Unix()}
}

// parseJSONPath parses a JSONPath expression, adding the braces kubectl's
// syntax wants when they are missing. Evaluating a parsed path changes it
// (negative indexes are resolved in place), so each use parses afresh.
func parseJSONPath(expr string) (*jsonpath.JSONPath, error) {
	if !strings.HasPrefix(strings.TrimSpace(expr), "{") {
		expr = "{" + expr + "}"
	}
	j := jsonpath.New("jsonPath")
	if err := j.Parse(expr); err != nil {
		return nil, fmt.Errorf("invalid JSONPath: %w", err)
	}
	return j, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
