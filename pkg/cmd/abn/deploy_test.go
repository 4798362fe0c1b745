package abn_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/config/grafana"
	"github.com/iter8-tools/iter8/pkg/abn/deploy"
	"github.com/iter8-tools/iter8/pkg/version"
)

// kubeconfig writes a kubeconfig with a context whose namespace is ns, for
// commands that do not reach a cluster.
func kubeconfig(t *testing.T, dir, ns string) string {
	t.Helper()
	path := filepath.Join(dir, "kubeconfig")
	doc := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ` + ns + `}}]
current-context: x
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDeployDryRun(t *testing.T) {
	dir := t.TempDir()
	kc := kubeconfig(t, dir, "shop")
	apps := filepath.Join(dir, "apps.yaml")
	if err := os.WriteFile(apps, []byte("applications: [{name: checkout, versions: [{name: v1}, {name: v2}]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		golden string
		args   []string
	}{
		{"deploy-embedded.yaml", []string{"--dry-run"}},
		{"deploy-embedded-apps.yaml", []string{"--dry-run", "-o", "yaml", "--apps", apps, "--storage-size", "5Gi", "--storage-class", "fast", "-n", "store"}},
		{"deploy-redis.yaml", []string{"--dry-run", "--store", "redis://redis.shop:6379/2", "--store-password-secret", "redis", "--replicas", "3", "--image", "example.com/abn:v1"}},
		{"deploy-redis.json", []string{"--dry-run", "-o", "json", "--store", "rediss://redis.shop:6380", "--replicas", "2", "--name", "abn-2"}},
		{"deploy-readiness.yaml", []string{"--dry-run", "--readiness-resource", "argoproj.io/rollouts", "--readiness-resource", "core/pods,argoproj.io/analysisruns"}},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, append([]string{"deploy", "--kubeconfig", kc}, tc.args...)...)
		// A build that is not a release warns when it deploys its default
		// image, and only then.
		wantErr := defaultImageWarning(t)
		if slices.Contains(tc.args, "--image") {
			wantErr = ""
		}
		if code != 0 || errOut != wantErr {
			t.Fatalf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, wantErr)
		}
		golden(t, tc.golden, out)
	}
}

// defaultImageWarning is the line deploy writes on stderr when it deploys
// the default image of this test binary, a build that is not a release.
func defaultImageWarning(t *testing.T) string {
	t.Helper()
	msg := version.DefaultImageWarning(deploy.DefaultImage())
	if !strings.Contains(msg, "kubectl-iter8-abn") || !strings.Contains(msg, "not a release") {
		t.Fatalf("DefaultImageWarning(%s) = %q", deploy.DefaultImage(), msg)
	}
	return msg + "\n"
}

func TestDeployOut(t *testing.T) {
	dir := t.TempDir()
	kc := kubeconfig(t, dir, "shop")
	outDir := filepath.Join(dir, "gitops", "abn")
	_, errOut, code := iter8(t, dir, "deploy", "--kubeconfig", kc, "--out", outDir)
	if code != 0 || errOut != defaultImageWarning(t)+"wrote 6 objects and kustomization.yaml to "+outDir+"\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	want := []string{"deployment-iter8-abn.yaml", "kustomization.yaml", "persistentvolumeclaim-iter8-abn-data.yaml",
		"role-iter8-abn.yaml", "rolebinding-iter8-abn.yaml", "service-iter8-abn.yaml", "serviceaccount-iter8-abn.yaml"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(filepath.Join(outDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "deploy-out-kustomization.yaml", string(b))
	// The files are the objects of --dry-run, one per file.
	dry, _, _ := iter8(t, dir, "deploy", "--kubeconfig", kc, "--dry-run")
	for _, n := range names {
		if n == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(outDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dry, string(b)) {
			t.Errorf("%s is not one of the objects of --dry-run:\n%s", n, b)
		}
	}
}

func TestDeployBadFlags(t *testing.T) {
	dir := t.TempDir()
	kc := kubeconfig(t, dir, "shop")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("applications: [{name: a, versions: []}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--replicas", "2"}, "Error: flag --replicas is 2 but the embedded store serves one replica: pass --store redis://HOST:PORT for several\n"},
		{[]string{"--replicas", "0"}, "Error: invalid value 0 for flag --replicas: must be at least 1\n"},
		{[]string{"--store", "mysql://db"}, "Error: invalid value \"mysql://db\" for flag --store: allowed are embedded and redis://HOST:PORT[/DB] (or rediss://)\n"},
		{[]string{"--store", "redis://:secret@redis:6379"}, "Error: flag --store holds a password: put it in a Secret (key \"password\") and pass --store-password-secret NAME\n"},
		{[]string{"--store-password-secret", "s"}, "Error: flag --store-password-secret needs a Redis --store\n"},
		{[]string{"--store", "redis://r:6379", "--storage-class", "fast"}, "Error: flag --storage-class is for the embedded store only\n"},
		{[]string{"--storage-size", "lots"}, "Error: invalid value \"lots\" for flag --storage-size: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'\n"},
		{[]string{"--name", "Abn_1"}, "Error: invalid value \"Abn_1\" for flag --name: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')\n"},
		{[]string{"--dry-run", "--out", "x"}, "Error: flags --dry-run and --out cannot be used together: print the objects, or write them\n"},
		{[]string{"--dry-run=true"}, "Error: invalid value \"true\" for flag --dry-run: allowed values are none, client\n"},
		{[]string{"-o", "json"}, "Error: flag -o/--output needs --dry-run: it prints the objects instead of applying them\n"},
		{[]string{"--dry-run", "-o", "table"}, "Error: invalid value \"table\" for flag -o/--output: allowed values are yaml, json, name\n"},
		{[]string{"--apps", "missing.yaml"}, "Error: flag --apps: open missing.yaml: no such file or directory\n"},
		{[]string{"--apps", bad}, "Error: --apps is not a valid applications file:\n  applications[0].versions: must list at least one version\n"},
		{[]string{"--readiness-resource", "rollouts"}, "Error: flag --readiness-resource: readiness resource \"rollouts\": must be group/resource, e.g. argoproj.io/rollouts (core/resource for the core group)\n"},
		{[]string{"--replicas", "2", "--store", "redis://:pw@r"}, "Error: flag --store holds a password: put it in a Secret (key \"password\") and pass --store-password-secret NAME\n"},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, append([]string{"deploy", "--kubeconfig", kc}, tc.args...)...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused deploy wrote --out")
	}
}

// TestDeployGrafanaDashboard: --grafana-dashboard adds the dashboard, as
// embedded, in a ConfigMap that Grafana's sidecar loads.
func TestDeployGrafanaDashboard(t *testing.T) {
	dir := t.TempDir()
	kc := kubeconfig(t, dir, "shop")
	outDir := filepath.Join(dir, "gitops", "abn")
	_, errOut, code := iter8(t, dir, "deploy", "--kubeconfig", kc, "--grafana-dashboard", "--out", outDir)
	if code != 0 || errOut != defaultImageWarning(t)+"wrote 7 objects and kustomization.yaml to "+outDir+"\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(outDir, "configmap-iter8-abn-dashboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := sigsyaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Namespace != "shop" || cm.Labels[grafana.SidecarLabel] != "1" || cm.Data["iter8-abn.json"] != grafana.ABN {
		t.Errorf("the dashboard's ConfigMap:\n%s", b)
	}
}
