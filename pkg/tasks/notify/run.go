package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/version"
)

// maxExcerpt bounds how much of a failed call's response goes in the error.
const maxExcerpt = 256

// funcs are the functions templates may call besides text/template's own.
var funcs = template.FuncMap{
	// json writes a value as JSON, e.g. {"text": {{json .Error}}}: the way to
	// put strings into a payloadTemplate safely.
	"json": func(v any) (string, error) {
		b, err := marshal(v)
		return string(b), err
	},
	// join joins strings, e.g. {{join .SatisfyingVersions ", "}}.
	"join": strings.Join,
}

// slackMessage is the body of the slack format.
type slackMessage struct {
	Text string `json:"text"`
}

// dispatch is the body of a GitHub repository_dispatch.
type dispatch struct {
	EventType     string  `json:"event_type"`
	ClientPayload Summary `json:"client_payload"`
}

// Run sends the summary of the result so far to the webhook. A call that
// cannot be made or that does not get a 2xx answer (redirects are not
// followed) fails the task, unless softFailure is set: then the task
// succeeds with a note that says why nothing was sent.
func (t *Task) Run(ctx context.Context, r *experiment.Run) error {
	err := t.send(ctx, Summarize(r.Result, r.TaskIndex))
	if err == nil || !t.SoftFailure || ctx.Err() != nil {
		return err
	}
	note := "notification not sent: " + err.Error()
	st := &r.Result.Tasks[r.TaskIndex]
	st.Notes = append(st.Notes, note)
	fmt.Fprintf(r.Progress, "notify: %s (softFailure: the task succeeds)\n", note)
	return nil
}

// send renders the payload and makes the call. Its errors name the URL's
// host, never the whole URL (a Slack webhook URL is a secret) nor the token.
func (t *Task) send(ctx context.Context, s Summary) error {
	target, err := t.target()
	if err != nil {
		return err
	}
	body, err := t.payload(s)
	if err != nil {
		return err
	}
	header, err := t.header()
	if err != nil {
		return err
	}

	code, status, excerpt, err := Send(ctx, t.Method, target, header, body, t.Timeout.Duration)
	switch {
	case err != nil:
		return err
	case code >= 200 && code < 300:
		return nil
	case excerpt != "":
		// The answer's start usually says what is wrong ("Bad
		// credentials", "no_text").
		return fmt.Errorf("notifying %s: the server answered %s: %q", target.Host, status, excerpt)
	}
	return fmt.Errorf("notifying %s: the server answered %s", target.Host, status)
}

// Send makes one webhook call, bounded by timeout, and returns the
// answer's status code and line, and the start of its body. Redirects are
// not followed: one would resend the body, and perhaps a token, to a place
// the caller does not name. Its errors name the URL's host, never the
// whole URL (a Slack webhook URL is a secret). The rollouts of Routes
// notify through it too.
func Send(ctx context.Context, method string, target *url.URL, header http.Header, body []byte, timeout time.Duration) (code int, status, excerpt string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(body))
	if err != nil {
		return 0, "", "", fmt.Errorf("building the request to %s: %w", target.Host, withoutURL(err))
	}
	req.Header = header
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		err = withoutURL(err)
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, "", "", fmt.Errorf("notifying %s: no answer within %s: %w", target.Host, timeout, err)
		}
		return 0, "", "", fmt.Errorf("notifying %s: %w", target.Host, err)
	}
	defer resp.Body.Close()
	// A read error only shortens the excerpt.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt))
	return resp.StatusCode, resp.Status, strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD")), nil
}

// target returns the webhook's URL, from url or from the urlEnv variable.
func (t *Task) target() (*url.URL, error) {
	if t.URLEnv == "" {
		return parseURL(t.URL)
	}
	s := strings.TrimSpace(os.Getenv(t.URLEnv))
	if s == "" {
		return nil, fmt.Errorf("environment variable %s (urlEnv) is not set", t.URLEnv)
	}
	u, err := parseURL(s)
	if err != nil {
		return nil, fmt.Errorf("environment variable %s (urlEnv): %w", t.URLEnv, err)
	}
	return u, nil
}

// header returns the request's headers: the format's, then the task's, then
// the token's.
func (t *Task) header() (http.Header, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "iter8/"+version.Version)
	if t.Format == FormatGitHub {
		h.Set("Accept", "application/vnd.github+json")
	}
	for k, v := range t.Headers {
		h.Set(k, v)
	}
	if t.TokenEnv != "" {
		// Secrets mounted from files often end in a newline.
		token := strings.TrimSpace(os.Getenv(t.TokenEnv))
		if token == "" {
			return nil, fmt.Errorf("environment variable %s (tokenEnv) is not set", t.TokenEnv)
		}
		h.Set("Authorization", "Bearer "+token)
	}
	return h, nil
}

// payload renders the request's body for s.
func (t *Task) payload(s Summary) ([]byte, error) {
	switch t.Format {
	case FormatGitHub:
		return marshal(dispatch{EventType: t.EventType, ClientPayload: s})
	case FormatSlack:
		text, err := t.render(s)
		if err != nil {
			return nil, err
		}
		return marshal(slackMessage{Text: text})
	default: // FormatCustom: Validate allows no other.
		out, err := t.render(s)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			return nil, fmt.Errorf("payloadTemplate did not render JSON: %w", err)
		}
		return []byte(out), nil
	}
}

func (t *Task) render(s Summary) (string, error) {
	var b strings.Builder
	if err := t.tmpl.Execute(&b, s); err != nil {
		return "", fmt.Errorf("rendering the template: %w", err)
	}
	return b.String(), nil
}

// marshal is json.Marshal without HTML escaping: "p99 <= 50" reads better
// than "p99 \u003c= 50" to whoever looks at a payload, and means the same.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// withoutURL unwraps a *url.Error, whose message quotes the whole URL.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
