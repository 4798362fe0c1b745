package abn_test

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/examples/abn/app"
	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	abnpkg "github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
)

const checkoutApps = "applications: [{name: checkout, versions: [{name: v1, weight: 50}, {name: v2, weight: 50}]}]"

func checkout(t *testing.T) *abnpkg.Static {
	t.Helper()
	a, err := abnpkg.ParseApps("apps.yaml", []byte(checkoutApps))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// shop runs the example app's shoppers against the service at addr and
// waits until their sales are stored.
func shop(t *testing.T, addr string, users int) app.Tally {
	t.Helper()
	c, err := sdk.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	tally, err := app.Local(t.Context(), c, "checkout", app.Shoppers(users), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return tally
}

func TestLookupWriteMetrics(t *testing.T) {
	srv := servicetest.Start(t, checkout(t))
	dir := t.TempDir()
	shop(t, srv.Addr, 400)

	out, errOut, code := iter8(t, dir, "metrics", "checkout", "--endpoint", srv.Addr)
	if code != 0 || errOut != "" {
		t.Fatalf("metrics: exit %d, stderr %q", code, errOut)
	}
	golden(t, "metrics.txt", out)
	out, _, _ = iter8(t, dir, "metrics", "checkout", "--endpoint", srv.Addr, "-o", "json")
	golden(t, "metrics.json", out)
	var rep abnpkg.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}

	a, _ := checkout(t).Application("checkout")
	i, _ := abnpkg.Assign(&a, "ann")
	v := a.Versions[i].Name
	out, _, code = iter8(t, dir, "lookup", "checkout", "ann", "--endpoint", srv.Addr)
	want := "VERSION   INDEX   HEADER\n" + v + "        " + string(rune('0'+i)) + "       x-iter8-version: " + v + "\n"
	if code != 0 || out != want {
		t.Errorf("lookup: exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	out, _, _ = iter8(t, dir, "lookup", "checkout", "ann", "--endpoint", srv.Addr, "-o", "json")
	var got sdk.Version
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sdk.Version{Name: v, Index: i, HeaderName: "x-iter8-version", HeaderValue: v}, got); diff != "" {
		t.Errorf("lookup -o json (-want +got):\n%s", diff)
	}

	out, _, code = iter8(t, dir, "write", "checkout", "ann", "sales", "12.5", "--endpoint", srv.Addr, "-o", "yaml")
	wantYAML := "application: checkout\nmetric: sales\nuser: ann\nvalue: 12.5\nversion: " + v + "\n"
	if code != 0 || out != wantYAML {
		t.Errorf("write: exit %d:\n%s\nwant:\n%s", code, out, wantYAML)
	}
	out, _, _ = iter8(t, dir, "metrics", "checkout", "--endpoint", srv.Addr, "-o", "json")
	var after abnpkg.Report
	if err := json.Unmarshal([]byte(out), &after); err != nil {
		t.Fatal(err)
	}
	if got, want := after.Versions[i].Metrics[0].Count, rep.Versions[i].Metrics[0].Count+1; got != want {
		t.Errorf("sales of %s after write: count %d, want %d", v, got, want)
	}
}

func TestCommandErrors(t *testing.T) {
	srv := servicetest.Start(t, checkout(t))
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"metrics", "cart", "--endpoint", srv.Addr}, "Error: application \"cart\" not found\n"},
		{[]string{"lookup", "cart", "ann", "--endpoint", srv.Addr}, "Error: application \"cart\" not found\n"},
		{[]string{"lookup", "checkout", "", "--endpoint", srv.Addr}, "Error: user: must not be empty\n"},
		{[]string{"write", "checkout", "ann", "sales", "lots", "--endpoint", srv.Addr}, "Error: invalid VALUE \"lots\": must be a number\n"},
		{[]string{"write", "checkout", "ann", "sales", "NaN", "--endpoint", srv.Addr}, "Error: value of metric \"sales\": NaN is not allowed: values must be finite numbers\n"},
		{[]string{"metrics", "checkout", "--endpoint", srv.Addr, "-o", "wide"}, "Error: invalid value \"wide\" for flag -o/--output: allowed values are table, json, yaml, html, jsonpath=TEMPLATE, go-template=TEMPLATE\n"},
		{[]string{"metrics", "checkout", "--timeout", "0s"}, "Error: invalid value 0s for flag --timeout: must be positive\n"},
		{[]string{"metrics"}, "Error: accepts 1 arg(s), received 0\n"},
		{[]string{"serve", "--kubeconfig", "missing.yaml"}, "Error: without --apps the applications are read from Routes: stat missing.yaml: no such file or directory\n"},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
	_, errOut, code := iter8(t, dir, "metrics", "checkout", "--endpoint", nobody)
	if code != 1 || !strings.HasPrefix(errOut, "Error: cannot reach the A/B/n service at "+nobody+" (flag --endpoint; is `kubectl port-forward svc/iter8-abn 50051` running?): ") {
		t.Errorf("unreachable: exit %d, stderr %q", code, errOut)
	}
}
