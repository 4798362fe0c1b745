package cli_test

import (
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/version"
)

var plugin = cli.Plugin{Name: "iter8-test", Short: "test plugin"}

func TestBinary(t *testing.T) {
	for name, want := range map[string]string{
		"iter8-run":   "kubectl-iter8_run",
		"iter8-route": "kubectl-iter8_route",
		"iter8-abn":   "kubectl-iter8_abn",
	} {
		if got := (cli.Plugin{Name: name}).Binary(); got != want {
			t.Errorf("Binary(%q) = %q, want %q", name, got, want)
		}
	}
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := cli.NewRoot(plugin, streams)
	code = cli.Execute(root.Command, args)
	return out.String(), errOut.String(), code
}

func TestHelpShowsKubectlNameAndConfigFlags(t *testing.T) {
	out, _, code := run(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"kubectl iter8-test [command]", "--kubeconfig string", "--context string", "-n, --namespace string", "version", "completion"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	version.Version, version.Commit, version.BuildDate = "v1.2.3", "abc123", "2026-01-02T03:04:05Z"
	t.Cleanup(func() { version.Version, version.Commit, version.BuildDate = "dev", "unknown", "unknown" })
	want := version.Info{
		Version: "v1.2.3", Commit: "abc123", BuildDate: "2026-01-02T03:04:05Z",
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}

	out, _, code := run(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got version.Info
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version -o json (-want +got):\n%s", diff)
	}

	out, _, _ = run(t, "version", "-o", "yaml")
	got = version.Info{}
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version -o yaml (-want +got):\n%s", diff)
	}

	out, _, _ = run(t, "version")
	if !strings.Contains(out, "Version:   v1.2.3\n") || !strings.Contains(out, "Commit:    abc123\n") {
		t.Errorf("version table:\n%s", out)
	}
}

func TestBadOutputFormatIsRejected(t *testing.T) {
	out, errOut, code := run(t, "version", "-o", "xml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	want := "Error: invalid value \"xml\" for flag -o/--output: allowed values are table, json, yaml, jsonpath=TEMPLATE, go-template=TEMPLATE\n"
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	_, errOut, code := run(t, "frobnicate")
	if code != 1 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestExitError(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	for _, tc := range []struct {
		err     error
		code    int
		printed string
	}{
		{&cli.ExitError{Code: 3}, 3, ""},
		{&cli.ExitError{Code: 1, Err: errors.New("slos not satisfied")}, 1, "Error: slos not satisfied\n"},
		{errors.New("boom"), 1, "Error: boom\n"},
	} {
		errOut.Reset()
		r := cli.NewRoot(plugin, streams)
		e := tc.err
		r.Command.RunE = func(*cobra.Command, []string) error { return e }
		if code := cli.Execute(r.Command, nil); code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, code, tc.code)
		}
		if errOut.String() != tc.printed {
			t.Errorf("%v: stderr %q, want %q", tc.err, errOut.String(), tc.printed)
		}
	}
}

func TestOutputFlagsValidate(t *testing.T) {
	tests := []struct {
		allowed []string
		format  string
		wantErr string
	}{
		{nil, "table", ""},
		{nil, "json", ""},
		{nil, "yaml", ""},
		{nil, "wide", `invalid value "wide" for flag -o/--output: allowed values are table, json, yaml, jsonpath=TEMPLATE, go-template=TEMPLATE`},
		{nil, "jsonpath={.items[*].name}", ""},
		{nil, "go-template={{.name}}", ""},
		{nil, "jsonpath", `invalid value "jsonpath" for flag -o/--output: allowed values are table, json, yaml, jsonpath=TEMPLATE, go-template=TEMPLATE`},
		{nil, "json=x", `invalid value "json=x" for flag -o/--output: allowed values are table, json, yaml, jsonpath=TEMPLATE, go-template=TEMPLATE`},
		{nil, "jsonpath={.items[", `flag -o/--output: jsonpath template "{.items[": unterminated array`},
		{nil, "go-template={{.name", `flag -o/--output: go-template "{{.name": template: output:1: unclosed action`},
		{[]string{"yaml", "json"}, "jsonpath={.a}", `invalid value "jsonpath={.a}" for flag -o/--output: allowed values are yaml, json`},
		{[]string{"text", "json"}, "text", ""},
		{[]string{"text", "json"}, "table", `invalid value "table" for flag -o/--output: allowed values are text, json`},
	}
	for _, tc := range tests {
		o := cli.NewOutputFlags(tc.allowed...)
		o.Format = tc.format
		err := o.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("%v/%s: error %q, want %q", tc.allowed, tc.format, got, tc.wantErr)
		}
	}
}

// TestOutputTemplates prints data through -o jsonpath and go-template, as
// kubectl does: on the data's JSON field names.
func TestOutputTemplates(t *testing.T) {
	type item struct {
		Name   string `json:"name"`
		Weight int    `json:"weight"`
	}
	data := map[string]any{"items": []item{{"v1", 90}, {"v2", 10}}}
	for _, tc := range []struct{ format, want string }{
		{"jsonpath={.items[*].name}", "v1 v2"},
		{"jsonpath=.items[1].weight", "10"},
		{`jsonpath={range .items[*]}{.name}={.weight}{"\n"}{end}`, "v1=90\nv2=10\n"},
		{`go-template={{range .items}}{{.name}} {{end}}`, "v1 v2 "},
	} {
		o := cli.NewOutputFlags()
		o.Format = tc.format
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := o.Print(&b, data, func(io.Writer) error { t.Fatal("the table was printed"); return nil }); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s: %q, want %q", tc.format, b.String(), tc.want)
		}
	}
	o := cli.NewOutputFlags()
	o.Format = "jsonpath={.missing}"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Print(io.Discard, data, nil); err == nil || !strings.Contains(err.Error(), "missing is not found") {
		t.Errorf("a missing key: %v, want an error naming it", err)
	}
}

func TestPrintListNames(t *testing.T) {
	o := cli.NewOutputFlags(cli.OutputTable, cli.OutputName)
	o.Format = cli.OutputName
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := o.PrintList(&b, nil, "route.iter8.tools", []string{"a", "b"}, nil); err != nil || b.String() != "route.iter8.tools/a\nroute.iter8.tools/b\n" {
		t.Errorf("-o name: %v, %q", err, b.String())
	}
	o.Format = "name=x"
	if err := o.Validate(); err == nil {
		t.Error("-o name=x was accepted")
	}
}
