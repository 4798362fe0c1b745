package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/iter8-tools/iter8/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.MainPure(m, &env)) }

// TestGoldenAppliesToAPIServer applies every golden object to a real API
// server with the official Istio, Gateway API and Traefik CRDs installed, with strict
// field validation: their schemas and CEL rules accept what we render, and
// no field is unknown to them.
func TestGoldenAppliesToAPIServer(t *testing.T) {
	testenv.SkipShort(t)
	ctx := t.Context()
	gw, err := testenv.GatewayAPICRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	istio, err := testenv.IstioCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	traefik, err := testenv.TraefikCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, gw, istio, traefik); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	files, err := filepath.Glob("testdata/golden/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			// A namespace per file, so that files do not overwrite each other.
			ns, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "golden-"}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			objs := readObjects(t, f)
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			for _, o := range objs {
				gvk := o.GroupVersionKind()
				m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Fatalf("%s: %v", gvk, err)
				}
				o.SetNamespace(ns.Name)
				data, err := json.Marshal(o.Object)
				if err != nil {
					t.Fatal(err)
				}
				_, err = dyn.Resource(m.Resource).Namespace(ns.Name).Patch(ctx, o.GetName(), types.ApplyPatchType, data,
					metav1.PatchOptions{FieldManager: "iter8-render-test", FieldValidation: metav1.FieldValidationStrict})
				if err != nil {
					t.Errorf("applying %s %s: %v", gvk.Kind, o.GetName(), err)
				}
			}
		})
	}
}

// readObjects reads the objects of a multi-document YAML file.
func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if obj != nil {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}
