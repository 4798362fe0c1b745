package run_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// inputsSpec reads a payload file from a subfolder and a webhook URL and
// token from the environment.
const inputsSpec = `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: inputs}
spec:
  tasks:
  - task: http
    with: {url: "http://app/", numRequests: 10, payloadFile: payload/order.json}
  - task: notify
    with: {urlEnv: SLACK_WEBHOOK_URL, tokenEnv: SLACK_TOKEN}
`

func inputsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeSpec(t, dir, inputsSpec)
	if err := os.Mkdir(filepath.Join(dir, "payload"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "payload", "order.json"), []byte(`{"sku": 42}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLaunchCarriesFilesAndEnv: the payload file goes into the
// experiment's Secret and is mounted where the spec names it, relative to
// the pod's experiment folder; the variables come from the Secrets the
// flags name.
func TestLaunchCarriesFilesAndEnv(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "cli-inputs")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]map[string][]byte{"slack": {"url": []byte("https://hooks.example/x")}, "tokens": {"SLACK_TOKEN": []byte("t")}} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
		if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dir := inputsDir(t)
	_, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "launch", "-f", "experiment.yaml",
		"--secret-env", "SLACK_WEBHOOK_URL=slack/url", "--env-from-secret", "tokens")
	if code != 0 {
		t.Fatalf("launch: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "warning: ghcr.io/iter8-tools/kubectl-iter8-run:latest is the default image of a build that is not a release") {
		t.Errorf("launch with the default image of a build that is not a release does not say so:\n%s", errOut)
	}
	s, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "iter8-inputs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["file-0"]); got != `{"sku": 42}` {
		t.Errorf("the Secret holds the payload as %q", got)
	}
	job, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "iter8-inputs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := job.Spec.Template.Spec
	wantVolumes := []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "iter8-inputs", DefaultMode: new(int32(0o644)),
		Items: []corev1.KeyToPath{{Key: "file-0", Path: "experiment/payload/order.json"}},
	}}}}
	if diff := cmp.Diff(wantVolumes, pod.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	c := pod.Containers[0]
	if diff := cmp.Diff([]corev1.VolumeMount{{Name: "files", MountPath: "/iter8", ReadOnly: true}}, c.VolumeMounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	wantEnv := []corev1.EnvVar{{Name: "SLACK_WEBHOOK_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "slack"}, Key: "url"}}}}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "tokens" {
		t.Errorf("envFrom: %+v", c.EnvFrom)
	}
	// An explicit image is not warned about.
	_, errOut, code = iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "launch", "-f", "experiment.yaml", "--image", "registry.example/run:v1",
		"--secret-env", "SLACK_WEBHOOK_URL=slack/url", "--secret-env", "SLACK_TOKEN=tokens/SLACK_TOKEN")
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("launch --image: exit %d\n%s", code, errOut)
	}
}

// TestLaunchInputErrors: a missing file, Secret, key or variable is a
// clear error before anything is created.
func TestLaunchInputErrors(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "cli-input-errors")
	if err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "slack"}, Data: map[string][]byte{"url": []byte("u"), "token": []byte("t")}}
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := inputsDir(t)
	noPayload := t.TempDir()
	writeSpec(t, noPayload, inputsSpec)
	for _, tc := range []struct {
		dir  string
		args []string
		want string
	}{
		{dir, nil, "spec.tasks[1].with.urlEnv: SLACK_WEBHOOK_URL is read from the environment, which the Job's container does not have: pass --secret-env SLACK_WEBHOOK_URL=SECRET/KEY or --env-from-secret SECRET\n" +
			"spec.tasks[1].with.tokenEnv: SLACK_TOKEN is read from the environment, which the Job's container does not have: pass --secret-env SLACK_TOKEN=SECRET/KEY or --env-from-secret SECRET\n"},
		{dir, []string{"--secret-env", "SLACK_WEBHOOK_URL=slack/url", "--secret-env", "SLACK_TOKEN=slack/tok"},
			"flag --secret-env SLACK_TOKEN=slack/tok: Secret " + ns + "/slack has no key \"tok\" (it has token, url)\n"},
		{dir, []string{"--secret-env", "SLACK_WEBHOOK_URL=slack/url", "--secret-env", "SLACK_TOKEN=teams/token"},
			"flag --secret-env: Secret " + ns + "/teams not found\n"},
		{dir, []string{"--secret-env", "SLACK_WEBHOOK_URL=slack/url", "--env-from-secret", "slack"},
			"spec.tasks[1].with.tokenEnv: SLACK_TOKEN is read from the environment, but no --secret-env gives it and no --env-from-secret Secret (slack) has such a key\n"},
		{dir, []string{"--secret-env", "SLACK_WEBHOOK_URL"},
			"invalid value \"SLACK_WEBHOOK_URL\" for flag --secret-env: want VAR=SECRET/KEY, e.g. SLACK_WEBHOOK_URL=slack/url\n"},
		{dir, []string{"--secret-env", "9X=Slack/url"},
			"invalid value \"9X=Slack/url\" for flag --secret-env: variable \"9X\": letters, digits and '_', not starting with a digit; Secret name \"Slack\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n"},
	} {
		args := append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns, "launch", "-f", "experiment.yaml"}, tc.args...)
		_, errOut, code := iter8(t, tc.dir, args...)
		if code != 1 || errOut != "Error: "+tc.want {
			t.Errorf("%v: exit %d\n%s\nwant\nError: %s", tc.args, code, errOut, tc.want)
		}
	}
	// The payload file is read when the experiment is parsed, as for a
	// local run.
	_, errOut, code := iter8(t, noPayload, "--kubeconfig", env.Kubeconfig, "-n", ns, "launch", "-f", "experiment.yaml", "--env-from-secret", "slack")
	if code != 1 || !strings.Contains(errOut, "spec.tasks[0].with.payloadFile") || !strings.Contains(errOut, "payload/order.json") {
		t.Errorf("missing payload file: exit %d\n%s", code, errOut)
	}
	secrets, err := env.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(secrets.Items) != 1 {
		t.Errorf("after failed launches the namespace holds %d Secrets, want the one the test made (%v)", len(secrets.Items), err)
	}
	jobs, err := env.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 0 {
		t.Errorf("failed launches created %d Jobs (%v)", len(jobs.Items), err)
	}
}
