package gitops_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/iter8-tools/iter8/pkg/gitops"
)

func obj(kind, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec, "status": map[string]any{"x": int64(1)}}}
	u.SetAPIVersion("v1")
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace("default")
	u.SetResourceVersion("42")
	return u
}

func read(t *testing.T, dir string) map[string]string {
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

func TestWriteDirIsDeterministicAndPrunes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := []*unstructured.Unstructured{
		obj("ServiceAccount", "b", nil),
		obj("ConfigMap", "a", map[string]any{"z": int64(1), "a": int64(2)}),
	}
	if err := gitops.WriteDir(dir, objs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"README.md": "mine",
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" +
			"- configmap-a.yaml\n- serviceaccount-b.yaml\n",
		"configmap-a.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\nspec:\n  a: 2\n  z: 1\n",
		"serviceaccount-b.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n  namespace: default\nspec: null\n",
	}
	if diff := cmp.Diff(want, read(t, dir)); diff != "" {
		t.Errorf("first write (-want +got):\n%s", diff)
	}
	// The same objects in another order write the same bytes.
	if err := gitops.WriteDir(dir, []*unstructured.Unstructured{objs[1], objs[0]}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, read(t, dir)); diff != "" {
		t.Errorf("second write (-want +got):\n%s", diff)
	}
	// An object no longer written is removed; files not ours stay.
	if err := gitops.WriteDir(dir, objs[1:]); err != nil {
		t.Fatal(err)
	}
	got := read(t, dir)
	if _, ok := got["serviceaccount-b.yaml"]; ok {
		t.Error("serviceaccount-b.yaml not pruned")
	}
	if got["README.md"] != "mine" {
		t.Error("README.md touched")
	}
}

func TestWriteDirRejectsDuplicatesWithoutWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	err := gitops.WriteDir(dir, []*unstructured.Unstructured{obj("ConfigMap", "a", nil), obj("ConfigMap", "a", nil)})
	if err == nil {
		t.Fatal("duplicate accepted")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("folder created despite the error: %v", err)
	}
}

func TestBuildReturnsTheWrittenObjects(t *testing.T) {
	dir := t.TempDir()
	objs := []*unstructured.Unstructured{obj("ConfigMap", "a", map[string]any{"k": "v"}), obj("Service", "s", map[string]any{"ports": []any{map[string]any{"port": int64(80)}}})}
	if err := gitops.WriteDir(dir, objs); err != nil {
		t.Fatal(err)
	}
	built, err := gitops.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	for _, o := range objs {
		c := o.DeepCopy()
		delete(c.Object, "status")
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		want = append(want, c.Object)
	}
	var got []map[string]any
	for _, o := range built {
		got = append(got, o.Object)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("built (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := gitops.Build(t.TempDir()); err == nil {
		t.Error("a folder without kustomization.yaml built")
	}
}
