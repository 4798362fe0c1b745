package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFilesGoWhereTheSpecNamesThem: relative paths (also above the
// experiment's folder) land under runner.PodDir as they resolve against
// it, absolute ones at their own path (mounted one by one), and a folder
// brings the files its pattern selects, in subfolders too.
func TestFilesGoWhereTheSpecNamesThem(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "exp")
	ca := filepath.Join(root, "pki", "ca.pem")
	write(t, filepath.Join(dir, "body.json"), "{}")
	write(t, ca, "CA")
	write(t, filepath.Join(root, "protos", "shop.proto"), `syntax = "proto3"; import "common/money.proto";`)
	write(t, filepath.Join(root, "protos", "common", "money.proto"), `syntax = "proto3";`)
	write(t, filepath.Join(root, "protos", "README.md"), "not a proto")
	spec := `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: files}
spec:
  tasks:
  - task: http
    with: {url: "https://app/", payloadFile: body.json, caFile: ` + ca + `}
  - task: grpc
    with: {host: "app:50051", call: shop.Shop/Buy, protoFile: ../protos/shop.proto}
`
	exp, err := experiment.Parse("experiment.yaml", dir, []byte(spec), tasks.Registry())
	if err != nil {
		t.Fatal(err)
	}
	files, err := runner.ReadFiles(exp, dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
	}
	want := map[string]string{
		runner.PodDir + "/body.json":       "{}",
		ca:                                 "CA",
		"/iter8/protos/shop.proto":         `syntax = "proto3"; import "common/money.proto";`,
		"/iter8/protos/common/money.proto": `syntax = "proto3";`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	objs, err := runner.Objects(exp, []byte(spec), runner.Options{Namespace: "shop", Image: "run:v1", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	pod := objs[4].(*batchv1.Job).Spec.Template.Spec
	var mounts []string
	for _, m := range pod.Containers[0].VolumeMounts {
		mounts = append(mounts, m.MountPath+" "+m.SubPath)
	}
	if diff := cmp.Diff([]string{"/iter8 ", ca + " root" + ca}, mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	items := map[string]string{}
	for _, it := range pod.Volumes[0].Secret.Items {
		items[it.Key] = it.Path
	}
	secret := objs[0].(*corev1.Secret)
	for i, f := range files {
		key := fmt.Sprintf("file-%d", i)
		if string(secret.Data[key]) != string(f.Data) {
			t.Errorf("Secret %s = %q, want %s's content", key, secret.Data[key], f.Path)
		}
		want, ok := strings.CutPrefix(f.Path, "/iter8/")
		if !ok {
			want = "root" + f.Path
		}
		if items[key] != want {
			t.Errorf("%s is mounted from item %q, want %q", f.Path, items[key], want)
		}
	}
}

func TestReadFilesErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "big.bin"), strings.Repeat("x", runner.MaxFilesSize+1))
	spec := `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: files}
spec:
  tasks:
  - task: http
    with: {url: "http://app/", payloadFile: big.bin}
`
	exp, err := experiment.Parse("experiment.yaml", dir, []byte(spec), tasks.Registry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = runner.ReadFiles(exp, dir)
	want := "the files the experiment's tasks read total 524289 bytes: an in-cluster experiment carries them in its Secret, which holds at most 524288 bytes of files (with the spec and the result, at most 1 MiB)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	// A file gone since the spec was parsed.
	if err := os.Remove(filepath.Join(dir, "big.bin")); err != nil {
		t.Fatal(err)
	}
	_, err = runner.ReadFiles(exp, dir)
	if err == nil || !strings.HasPrefix(err.Error(), `spec.tasks[0].with.payloadFile: "big.bin": an in-cluster experiment carries the file into its pod, but it cannot be read:`) {
		t.Errorf("err = %v", err)
	}
}
