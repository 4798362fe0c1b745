// Package notify is the notify task: it sends the experiment's outcome to a
// webhook (Slack, a GitHub repository_dispatch, or any endpoint that takes
// JSON), with a payload rendered from a Summary of the result.
package notify

import (
	"cmp"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Name is the task's name in experiment.yaml.
const Name = "notify"

// Format is the shape of the payload sent.
type Format string

// Payload formats.
const (
	// FormatSlack sends {"text": <rendered text>}, what Slack incoming
	// webhooks (and Mattermost, Rocket.Chat, ...) take.
	FormatSlack Format = "slack"
	// FormatGitHub sends a GitHub repository_dispatch event:
	// {"event_type": <eventType>, "client_payload": <Summary>}.
	FormatGitHub Format = "github"
	// FormatCustom sends the rendered payloadTemplate, which must be JSON.
	FormatCustom Format = "custom"
)

// Defaults of the parameters.
const (
	// DefaultMethod is the HTTP method used when none is given.
	DefaultMethod = http.MethodPost
	// DefaultFormat is the payload format used when none is given.
	DefaultFormat = FormatSlack
	// DefaultTimeout bounds the call when no timeout is given.
	DefaultTimeout = 10 * time.Second
	// DefaultEventType is the github format's event_type when none is given.
	DefaultEventType = "iter8"
	// DefaultText is the slack format's text template when none is given,
	// e.g. "Experiment prod/checkout completed (iteration 1). Versions
	// satisfying all SLOs: v2."
	DefaultText = `Experiment {{with .Namespace}}{{.}}/{{end}}{{.Experiment}} ` +
		`{{if .Failed}}failed{{else if .Completed}}completed{{else}}is running{{end}} (iteration {{.Iteration}})` +
		`{{if .Failed}}: {{.Error}}{{end}}.` +
		`{{if .SLOs}}{{with .SatisfyingVersions}} Versions satisfying all SLOs: {{join . ", "}}.` +
		`{{else}} No version satisfies all SLOs.{{end}}{{end}}`
)

// maxEventType is GitHub's limit on a repository_dispatch event_type.
const maxEventType = 100

var (
	methods = []string{http.MethodPost, http.MethodPut, http.MethodPatch}
	formats = []Format{FormatSlack, FormatGitHub, FormatCustom}
)

// Task is the notify task's parameters.
//
//	tasks:
//	- task: notify
//	  if: not slos
//	  with:
//	    urlEnv: SLACK_WEBHOOK_URL
//	    text: "{{.Experiment}}: no version satisfies the SLOs"
type Task struct {
	// URL is the webhook's absolute http or https URL. Exactly one of url
	// and urlEnv is required.
	URL string `json:"url,omitempty"`
	// URLEnv names an environment variable that holds the URL, for
	// webhooks whose URL is a secret (Slack's are).
	URLEnv string `json:"urlEnv,omitempty"`
	// Method is POST, PUT or PATCH; default POST.
	Method string `json:"method,omitempty"`
	// Headers are added to the request, after the format's own headers, so
	// that they can replace them. Values are sent as written (they are not
	// templates); put secrets in tokenEnv instead.
	Headers map[string]string `json:"headers,omitempty"`
	// TokenEnv names an environment variable that holds a token, sent as
	// "Authorization: Bearer <token>". The token never appears in errors,
	// notes or results.
	TokenEnv string `json:"tokenEnv,omitempty"`
	// Format is slack, github or custom; default slack.
	Format Format `json:"format,omitempty"`
	// Text is the slack format's message, a text/template over Summary;
	// default DefaultText. Only with format slack.
	Text string `json:"text,omitempty"`
	// EventType is the github format's event_type (at most 100 characters);
	// default iter8. Only with format github.
	EventType string `json:"eventType,omitempty"`
	// PayloadTemplate is the custom format's body, a text/template over
	// Summary that must render JSON. Required with format custom, and only
	// with it.
	PayloadTemplate string `json:"payloadTemplate,omitempty"`
	// Timeout bounds the whole call; default 10s.
	Timeout experiment.Duration `json:"timeout,omitzero"`
	// SoftFailure makes the task succeed even when the notification cannot
	// be sent; why it was not is recorded as a note of the task.
	SoftFailure bool `json:"softFailure,omitempty"`

	// tmpl is the parsed text or payloadTemplate; nil with format github.
	tmpl *template.Template
}

// New returns the zero parameters of the task.
func New() experiment.Task { return &Task{} }

// Metrics returns nil: notify records no metrics.
func (t *Task) Metrics() []experiment.MetricInfo { return nil }

// Env are the variables of the URL and the token.
func (t *Task) Env() []experiment.EnvInput {
	var in []experiment.EnvInput
	if t.URLEnv != "" {
		in = append(in, experiment.EnvInput{Field: "urlEnv", Name: t.URLEnv})
	}
	if t.TokenEnv != "" {
		in = append(in, experiment.EnvInput{Field: "tokenEnv", Name: t.TokenEnv})
	}
	return in
}

// Default fills in what the parameters leave out (experiment.Defaulter).
func (t *Task) Default() {
	t.Method = cmp.Or(t.Method, DefaultMethod)
	t.Format = cmp.Or(t.Format, DefaultFormat)
	if t.Timeout.Duration == 0 {
		t.Timeout.Duration = DefaultTimeout
	}
	switch t.Format {
	case FormatSlack:
		t.Text = cmp.Or(t.Text, DefaultText)
	case FormatGitHub:
		t.EventType = cmp.Or(t.EventType, DefaultEventType)
	}
}

// Validate checks every parameter as written and parses the template.
// Templates are executed only when the task runs.
func (t *Task) Validate(_ *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	// Judged with their defaults (Default fills them in).
	method, format := cmp.Or(t.Method, DefaultMethod), cmp.Or(t.Format, DefaultFormat)

	switch {
	case t.URL == "" && t.URLEnv == "":
		errs = append(errs, field.Required(path.Child("url"), "the webhook's absolute http or https URL, or urlEnv naming an environment variable that holds it"))
	case t.URL != "" && t.URLEnv != "":
		errs = append(errs, field.Forbidden(path.Child("urlEnv"), "url and urlEnv exclude each other: set one"))
	case t.URL != "":
		if _, err := parseURL(t.URL); err != nil {
			// The URL itself is left out: a webhook URL may be a secret.
			errs = append(errs, field.Invalid(path.Child("url"), field.OmitValueType{}, err.Error()))
		}
	default:
		errs = append(errs, experiment.ValidateEnvName(path.Child("urlEnv"), t.URLEnv)...)
	}
	if !slices.Contains(methods, method) {
		errs = append(errs, field.NotSupported(path.Child("method"), method, methods))
	}
	if t.TokenEnv != "" {
		errs = append(errs, experiment.ValidateEnvName(path.Child("tokenEnv"), t.TokenEnv)...)
	}
	errs = append(errs, t.validateHeaders(path.Child("headers"))...)

	only := func(name string, f Format) *field.Error {
		return field.Forbidden(path.Child(name), "only with format "+string(f)+"; the format is "+string(format))
	}
	switch format {
	case FormatSlack:
		errs = append(errs, t.parse(path.Child("text"), cmp.Or(t.Text, DefaultText))...)
	case FormatGitHub:
		if len(t.EventType) > maxEventType {
			errs = append(errs, field.TooLong(path.Child("eventType"), t.EventType, maxEventType))
		}
	case FormatCustom:
		if t.PayloadTemplate == "" {
			errs = append(errs, field.Required(path.Child("payloadTemplate"), "a text/template over the summary that renders the JSON body"))
		} else {
			errs = append(errs, t.parse(path.Child("payloadTemplate"), t.PayloadTemplate)...)
		}
	default:
		// Which parameters belong is unknown until the format is fixed.
		return append(errs, field.NotSupported(path.Child("format"), format, formats))
	}
	if t.Text != "" && format != FormatSlack {
		errs = append(errs, only("text", FormatSlack))
	}
	if t.EventType != "" && format != FormatGitHub {
		errs = append(errs, only("eventType", FormatGitHub))
	}
	if t.PayloadTemplate != "" && format != FormatCustom {
		errs = append(errs, only("payloadTemplate", FormatCustom))
	}
	return errs
}

// parse parses a template into t.tmpl.
func (t *Task) parse(path *field.Path, text string) field.ErrorList {
	tmpl, err := template.New(path.String()).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return field.ErrorList{field.Invalid(path, field.OmitValueType{}, err.Error())}
	}
	t.tmpl = tmpl
	return nil
}

func (t *Task) validateHeaders(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(t.Headers)) {
		p := path.Key(name)
		errs = append(errs, experiment.ValidateHeaderName(p, name)...)
		if strings.ContainsAny(t.Headers[name], "\r\n\x00") {
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, "must not contain line breaks or NUL"))
		}
		if t.TokenEnv != "" && http.CanonicalHeaderKey(name) == "Authorization" {
			errs = append(errs, field.Forbidden(p, "tokenEnv sets the Authorization header"))
		}
	}
	return errs
}

// errNotHTTPURL does not wrap url.Parse's error, which quotes the URL.
var errNotHTTPURL = errors.New("must be an absolute http or https URL")

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errNotHTTPURL
	}
	return u, nil
}
