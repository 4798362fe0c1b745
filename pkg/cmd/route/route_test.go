package route_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/cmd/route"
	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/render"
	routefile "github.com/iter8-tools/iter8/pkg/route"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// iter8 runs kubectl iter8-route in-process in dir and returns stdout,
// stderr and the exit code. No kubeconfig is found: HOME is empty.
func iter8(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := cli.Execute(route.NewCommand(streams), args)
	return out.String(), errOut.String(), code
}

// isolate gives the test an empty home: no kubeconfig, no Git configuration.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv(route.TokenEnv, "")
	t.Setenv(route.UsernameEnv, "")
	for _, k := range []string{"GIT_SSL_CAINFO", "GIT_SSL_CERT", "GIT_SSL_KEY"} {
		t.Setenv(k, "")
	}
	return home
}

func copyRoute(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/route.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "route.yaml")
	gittest.WriteFile(t, path, string(b))
	return path
}

// readDir reads every file of a folder.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// golden compares a folder with testdata/golden/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got map[string]string) {
	t.Helper()
	dir := filepath.Join(testdataDir(t), "golden", name)
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for f, content := range got {
			gittest.WriteFile(t, filepath.Join(dir, f), content)
		}
	}
	if diff := cmp.Diff(readDir(t, dir), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", dir, diff)
	}
}

var testdata string

func testdataDir(t *testing.T) string {
	t.Helper()
	if testdata == "" {
		t.Fatal("testdata folder unknown")
	}
	return testdata
}

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	testdata = filepath.Join(wd, "testdata")
	// Tests that isolate HOME must still find the control plane's cache.
	if os.Getenv("ITER8_CACHE_DIR") == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			panic(err)
		}
		os.Setenv("ITER8_CACHE_DIR", filepath.Join(cache, "iter8"))
	}
	code := m.Run()
	stopClusterEnv()
	os.Exit(code)
}

func TestGenerateWritesAKustomizeFolder(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	copyRoute(t, dir)
	out, errOut, code := iter8(t, dir, "generate", "-f", "route.yaml", "--out", "routing", "-n", "shop")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if want := "wrote 1 object to routing: v1 90%, v2 10%\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	got := readDir(t, filepath.Join(dir, "routing"))
	golden(t, "generate-istio", got)
	// The quickstart of docs/route.md shows this very object.
	docs, err := os.ReadFile(filepath.Join(testdataDir(t), "..", "..", "..", "..", "docs", "route.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(docs), "```yaml\n"+got["virtualservice-checkout.yaml"]+"```") {
		t.Errorf("docs/route.md does not show the VirtualService generate writes:\n%s", got["virtualservice-checkout.yaml"])
	}

	// The embedded kustomize builds the folder into exactly the rendered objects.
	r, err := routefile.ReadFile(filepath.Join(dir, "route.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r.Namespace = "shop"
	rendered, err := render.Render(r, render.AllVersions(r))
	if err != nil {
		t.Fatal(err)
	}
	built, err := gitops.Build(filepath.Join(dir, "routing"))
	if err != nil {
		t.Fatal(err)
	}
	var want, have []map[string]any
	for _, o := range rendered.Objects {
		want = append(want, o.Object)
	}
	for _, o := range built {
		have = append(have, o.Object)
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("kustomize build (-rendered +built):\n%s", diff)
	}

	// Again: the same bytes, and files are not even rewritten.
	old := time.Unix(0, 0)
	if err := os.Chtimes(filepath.Join(dir, "routing", "virtualservice-checkout.yaml"), old, old); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := iter8(t, dir, "generate", "-f", "route.yaml", "--out", "routing", "-n", "shop"); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, errOut)
	}
	if diff := cmp.Diff(got, readDir(t, filepath.Join(dir, "routing"))); diff != "" {
		t.Errorf("second run changed the folder (-first +second):\n%s", diff)
	}
	if info, err := os.Stat(filepath.Join(dir, "routing", "virtualservice-checkout.yaml")); err != nil || !info.ModTime().Equal(old) {
		t.Errorf("unchanged file rewritten: %v", err)
	}
}

// TestWeightChangeTouchesOnlyWeightLines shows the layout at work: moving
// traffic changes one line per version and nothing else.
func TestWeightChangeTouchesOnlyWeightLines(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	path := copyRoute(t, dir)
	if _, errOut, code := iter8(t, dir, "generate", "-f", "route.yaml", "--out", "routing", "-n", "shop"); code != 0 {
		t.Fatal(errOut)
	}
	before := readDir(t, filepath.Join(dir, "routing"))
	b, _ := os.ReadFile(path)
	gittest.WriteFile(t, path, strings.NewReplacer("weight: 90", "weight: 40", "weight: 10", "weight: 60").Replace(string(b)))
	if _, errOut, code := iter8(t, dir, "generate", "-f", "route.yaml", "--out", "routing", "-n", "shop"); code != 0 {
		t.Fatal(errOut)
	}
	after := readDir(t, filepath.Join(dir, "routing"))
	var changed []string
	for name := range after {
		a, b := strings.Split(before[name], "\n"), strings.Split(after[name], "\n")
		if len(a) != len(b) {
			t.Fatalf("%s: %d lines became %d", name, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				changed = append(changed, name+": "+strings.TrimSpace(a[i])+" -> "+strings.TrimSpace(b[i]))
			}
		}
	}
	want := []string{"virtualservice-checkout.yaml: weight: 90 -> weight: 40", "virtualservice-checkout.yaml: weight: 10 -> weight: 60"}
	if diff := cmp.Diff(want, changed); diff != "" {
		t.Errorf("changed lines (-want +got):\n%s", diff)
	}
}

func TestGeneratePrintsObjects(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	copyRoute(t, dir)
	out, errOut, code := iter8(t, dir, "generate", "-f", "route.yaml", "-n", "shop", "-o", "yaml")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	golden(t, "generate-stdout", map[string]string{"objects.yaml": out})
	if _, err := os.Stat(filepath.Join(dir, "routing")); !os.IsNotExist(err) {
		t.Errorf("-o yaml wrote files: %v", err)
	}

	out, _, code = iter8(t, dir, "generate", "-f", "route.yaml", "-n", "shop", "-o", "json")
	var list struct {
		Kind  string
		Items []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("-o json: exit %d, %v\n%s", code, err, out)
	}
	if list.Kind != "List" || len(list.Items) != 1 || list.Items[0].Kind != "VirtualService" {
		t.Errorf("-o json: %+v", list)
	}
}

// TestGenerateCommitAndPush commits to a clone and pushes to a real Git
// server on 127.0.0.1 with a token from the environment.
func TestGenerateCommitAndPush(t *testing.T) {
	isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "git", Password: "tok3n-s3cret"})
	srv.NewRepository(t, "fleet.git", map[string]string{"README.md": "fleet\n"})
	clone := gittest.Clone(t, filepath.Join(srv.Root, "fleet.git"))
	gittest.Git(t, clone, "remote", "set-url", "origin", srv.URL+"/fleet.git")
	copyRoute(t, clone)
	bare := filepath.Join(srv.Root, "fleet.git")

	// A wrong token: the push fails and the token is not shown.
	t.Setenv(route.TokenEnv, "wrong-tok3n")
	out, errOut, code := iter8(t, clone, "generate", "-f", "route.yaml", "-n", "shop", "--out", "apps/checkout", "--commit", "--push")
	if code != 1 || strings.Contains(out+errOut, "wrong-tok3n") || !strings.Contains(errOut, "Error: pushing main to origin: authentication required") {
		t.Errorf("wrong token: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	// The commit was made before the push failed.
	committed := regexp.MustCompile(`(?m)^committed [0-9a-f]{7} on main: route shop/checkout: v1 90%, v2 10%$`)
	if !committed.MatchString(errOut) {
		t.Errorf("stderr lacks the commit line:\n%s", errOut)
	}

	t.Setenv(route.TokenEnv, "tok3n-s3cret")
	_, errOut, code = iter8(t, clone, "generate", "-f", "route.yaml", "-n", "shop", "--out", "apps/checkout", "--commit", "--push")
	if code != 0 || strings.Contains(errOut, "tok3n-s3cret") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"nothing to commit: apps/checkout is unchanged\n", "pushed main to origin\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	wantLog := []string{"route shop/checkout: v1 90%, v2 10%", "initial"}
	if diff := cmp.Diff(wantLog, lines(gittest.Git(t, bare, "log", "--format=%s", "main"))); diff != "" {
		t.Errorf("remote history (-want +got):\n%s", diff)
	}
	if got := gittest.Git(t, bare, "log", "-1", "--format=%b", "main"); got != "Rendered by kubectl iter8-route generate from Route checkout (provider istio, strategy blue-green)." {
		t.Errorf("commit body %q", got)
	}
	if diff := cmp.Diff([]string{"apps/checkout/kustomization.yaml", "apps/checkout/virtualservice-checkout.yaml"},
		lines(gittest.Git(t, bare, "show", "--format=", "--name-only", "main"))); diff != "" {
		t.Errorf("committed files (-want +got):\n%s", diff)
	}
	// route.yaml itself is not committed: only the folder is.
	if diff := cmp.Diff([]string{"?? route.yaml"}, lines(gittest.Git(t, clone, "status", "--porcelain"))); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	// Nothing changed: no commit, nothing to push.
	_, errOut, code = iter8(t, clone, "generate", "-f", "route.yaml", "-n", "shop", "--out", "apps/checkout", "--commit", "--push")
	if code != 0 || !strings.Contains(errOut, "nothing to commit: apps/checkout is unchanged") {
		t.Errorf("rerun: exit %d, stderr:\n%s", code, errOut)
	}
	if got := len(lines(gittest.Git(t, bare, "log", "--format=%s", "main"))); got != 2 {
		t.Errorf("rerun made a commit: %d commits", got)
	}
}

// TestGeneratePushUsesGitCredentialHelper pushes with the credentials a
// Git credential helper holds for the remote, as git itself would.
func TestGeneratePushUsesGitCredentialHelper(t *testing.T) {
	home := isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "ann", Password: "helper-s3cret"})
	srv.NewRepository(t, "fleet.git", map[string]string{"README.md": "fleet\n"})
	clone := gittest.Clone(t, filepath.Join(srv.Root, "fleet.git"))
	gittest.Git(t, clone, "remote", "set-url", "origin", srv.URL+"/fleet.git")
	copyRoute(t, clone)
	store := filepath.Join(home, "credentials")
	gittest.WriteFile(t, store, strings.Replace(srv.URL, "http://", "http://ann:helper-s3cret@", 1)+"\n")
	gittest.WriteFile(t, filepath.Join(home, ".gitconfig"), "[credential]\n\thelper = store --file="+store+"\n")

	_, errOut, code := iter8(t, clone, "generate", "-f", "route.yaml", "-n", "shop", "--out", "apps/checkout", "--commit", "--push")
	if code != 0 || strings.Contains(errOut, "helper-s3cret") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if got := gittest.Git(t, filepath.Join(srv.Root, "fleet.git"), "log", "-1", "--format=%s", "main"); got != "route shop/checkout: v1 90%, v2 10%" {
		t.Errorf("remote head: %q", got)
	}
}

// TestGeneratePushUsesGitTLSSettings pushes to a real https Git server
// that has a test CA's certificate and asks for a client certificate, with
// the CA and the client certificate that git push would use: those of
// http.sslCAInfo, http.sslCert and http.sslKey for the URL, or of
// $GIT_SSL_CAINFO, $GIT_SSL_CERT and $GIT_SSL_KEY.
func TestGeneratePushUsesGitTLSSettings(t *testing.T) {
	home := isolate(t)
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "git", Password: "tok3n", TLS: true, ClientCertificates: true})
	srv.NewRepository(t, "fleet.git", map[string]string{"README.md": "fleet\n"})
	bare := filepath.Join(srv.Root, "fleet.git")
	clone := gittest.Clone(t, bare)
	gittest.Git(t, clone, "remote", "set-url", "origin", srv.URL+"/fleet.git")
	copyRoute(t, clone)
	t.Setenv(route.TokenEnv, "tok3n")
	gittest.WriteFile(t, filepath.Join(home, "ca.pem"), string(srv.CA))
	gittest.WriteFile(t, filepath.Join(home, "client.pem"), string(srv.ClientCert))
	gittest.WriteFile(t, filepath.Join(home, "client-key.pem"), string(srv.ClientKey))
	gittest.WriteFile(t, filepath.Join(home, "client-and-key.pem"), string(srv.ClientCert)+string(srv.ClientKey))
	gitconfig := filepath.Join(home, ".gitconfig")
	generate := func() (string, int) {
		t.Helper()
		_, errOut, code := iter8(t, clone, "generate", "-f", "route.yaml", "-n", "shop", "--out", "apps/checkout", "--commit", "--push")
		return errOut, code
	}
	head := func() string {
		t.Helper()
		return gittest.Git(t, bare, "log", "-1", "--format=%s", "main")
	}

	for _, tc := range []struct {
		name, config string
		env          map[string]string
		want         string
	}{
		{name: "no settings", want: "certificate signed by unknown authority"},
		{name: "the CA alone", config: "[http \"" + srv.URL + "\"]\n\tsslCAInfo = ~/ca.pem\n", want: "certificate required"},
		{name: "a key without a certificate", env: map[string]string{"GIT_SSL_CAINFO": filepath.Join(home, "ca.pem"), "GIT_SSL_KEY": filepath.Join(home, "client-key.pem")},
			want: "Error: $GIT_SSL_KEY is set without a client certificate ($GIT_SSL_CERT or http.sslCert)\n"},
		{name: "a missing CA file", env: map[string]string{"GIT_SSL_CAINFO": filepath.Join(home, "nope.pem")},
			want: "Error: reading $GIT_SSL_CAINFO: open " + filepath.Join(home, "nope.pem") + ": no such file or directory\n"},
		{name: "a key that is not one", config: "[http]\n\tsslCert = ~/client.pem\n\tsslKey = ~/ca.pem\n",
			want: "Error: the client certificate of http.sslCert and the key of http.sslKey: tls: found a certificate rather than a key in the PEM for the private key\n"},
	} {
		gittest.WriteFile(t, gitconfig, tc.config)
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		errOut, code := generate()
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr lacks %q:\n%s", tc.name, code, tc.want, errOut)
		}
		for k := range tc.env {
			t.Setenv(k, "")
		}
	}
	if got := head(); got != "initial" {
		t.Fatalf("a push without the settings reached the remote: head %q", got)
	}

	// git's configuration for the URL, paths with ~.
	gittest.WriteFile(t, gitconfig, "[http \""+srv.URL+"\"]\n\tsslCAInfo = ~/ca.pem\n\tsslCert = ~/client.pem\n\tsslKey = ~/client-key.pem\n")
	if errOut, code := generate(); code != 0 || !strings.Contains(errOut, "pushed main to origin\n") {
		t.Fatalf("with http.sslCAInfo, sslCert and sslKey: exit %d, stderr:\n%s", code, errOut)
	}
	if got := head(); got != "route shop/checkout: v1 90%, v2 10%" {
		t.Errorf("remote head %q", got)
	}

	// The environment, over a configuration that has none: the key in
	// the certificate's file.
	gittest.WriteFile(t, gitconfig, "")
	t.Setenv("GIT_SSL_CAINFO", filepath.Join(home, "ca.pem"))
	t.Setenv("GIT_SSL_CERT", filepath.Join(home, "client-and-key.pem"))
	gittest.Git(t, clone, "commit", "--allow-empty", "-m", "by hand")
	if errOut, code := generate(); code != 0 || !strings.Contains(errOut, "pushed main to origin\n") {
		t.Fatalf("with $GIT_SSL_CAINFO and $GIT_SSL_CERT: exit %d, stderr:\n%s", code, errOut)
	}
	if got := head(); got != "by hand" {
		t.Errorf("remote head %q", got)
	}
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestValidate(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	copyRoute(t, dir)
	out, errOut, code := iter8(t, dir, "validate", "-f", "route.yaml")
	if code != 0 || out != "route.yaml: valid Route checkout (istio, blue-green): v1 90%, v2 10%\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestBadInput gives each mistake one clear error, exit code 1, nothing on
// stdout, and no folder written.
func TestBadInput(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/route.yaml")
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name string, replace ...string) {
		gittest.WriteFile(t, filepath.Join(dir, name), strings.NewReplacer(replace...).Replace(string(good)))
	}
	variant("route.yaml")
	variant("provider.yaml", "provider: istio", "provider: linkerd")
	variant("strategy.yaml", "strategy: blue-green", "strategy: shadow")
	variant("weight.yaml", "weight: 90", "weight: 190")
	variant("backend.yaml", "    service: {name: checkout-v2, port: 8080}\n", "")
	variant("duplicate.yaml", "name: v2", "name: v1")
	variant("namespaced.yaml", "  name: checkout\n", "  name: checkout\n  namespace: shop\n")
	gittest.WriteFile(t, filepath.Join(dir, "modelmesh.yaml"), `apiVersion: iter8.tools/v1alpha1
kind: Route
metadata: {name: wisdom}
spec:
  provider: kserve-modelmesh
  strategy: mirror
  versions:
  - {name: v1, inferenceService: {name: wisdom-1}}
  - {name: v2, inferenceService: {name: wisdom-2}, weight: 10}
`)

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"generate", "-f", "provider.yaml", "--out", "out"},
			"Error: provider.yaml is not a valid Route:\n  provider.yaml:6: spec.provider: Unsupported value: \"linkerd\": supported values: \"istio\", \"gateway-api\", \"traefik\", \"kserve\", \"kserve-modelmesh\"\n"},
		{[]string{"generate", "-f", "strategy.yaml", "--out", "out"},
			"Error: strategy.yaml is not a valid Route:\n  strategy.yaml:7: spec.strategy: Unsupported value: \"shadow\": supported values: \"blue-green\", \"canary\", \"mirror\", \"abn\"\n"},
		{[]string{"generate", "-f", "weight.yaml", "--out", "out"},
			"Error: weight.yaml is not a valid Route:\n  weight.yaml:11: spec.versions[0].weight: Invalid value: 190: must be between 0 and 100\n"},
		{[]string{"generate", "-f", "backend.yaml", "--out", "out"},
			"Error: backend.yaml is not a valid Route:\n  backend.yaml:12: spec.versions[1].service: Required value: the Service that serves the version\n"},
		{[]string{"generate", "-f", "duplicate.yaml", "--out", "out"},
			"Error: duplicate.yaml is not a valid Route:\n  duplicate.yaml:12: spec.versions[1].name: Duplicate value: \"v1\"\n"},
		{[]string{"generate", "-f", "modelmesh.yaml", "--out", "out"},
			"Error: modelmesh.yaml is not a valid Route:\n  modelmesh.yaml:6: spec.strategy: Unsupported value: \"mirror\": provider kserve-modelmesh supports \"blue-green\", \"canary\", \"abn\"\n"},
		{[]string{"validate", "-f", "duplicate.yaml"},
			"Error: duplicate.yaml is not a valid Route:\n  duplicate.yaml:12: spec.versions[1].name: Duplicate value: \"v1\"\n"},
		{[]string{"generate", "--out", "out"}, "Error: flag -f/--filename is required: the Route file to render\n"},
		{[]string{"generate", "-f", "route.yaml"}, "Error: flag --out or -o/--output is required: write a kustomize folder, or print the objects\n"},
		{[]string{"generate", "-f", "route.yaml", "--out", "out", "-o", "yaml"}, "Error: flags --out and -o/--output cannot be used together: write a kustomize folder, or print the objects\n"},
		{[]string{"generate", "-f", "route.yaml", "-o", "table"}, "Error: invalid value \"table\" for flag -o/--output: allowed values are yaml, json\n"},
		{[]string{"generate", "-f", "route.yaml", "-o", "yaml", "--commit"}, "Error: flag --commit needs --out: it commits the folder written\n"},
		{[]string{"generate", "-f", "route.yaml", "--out", "out", "--push"}, "Error: flag --push needs --commit: it pushes the commit made\n"},
		{[]string{"generate", "-f", "namespaced.yaml", "--out", "out", "-n", "other"}, "Error: the Route's namespace \"shop\" does not match the namespace \"other\" of flag -n/--namespace\n"},
		{[]string{"generate", "-f", "missing.yaml", "--out", "out"}, "Error: reading Route: open missing.yaml: no such file or directory\n"},
		{[]string{"validate"}, "Error: flag -f/--filename is required: the Route file to check\n"},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("a failed command wrote the folder: %v", err)
	}

	// --commit outside a Git repository fails before writing anything.
	_, errOut, code := iter8(t, dir, "generate", "-f", "route.yaml", "--out", "out", "--commit")
	if code != 1 || !strings.HasPrefix(errOut, "Error: opening the Git repository of out: repository does not exist") {
		t.Errorf("--commit outside Git: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("--commit outside Git wrote the folder: %v", err)
	}
}
