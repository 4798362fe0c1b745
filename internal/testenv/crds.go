package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// FieldManager is the server-side apply field manager of the test harness.
const FieldManager = "iter8-testenv"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs applies (server-side) every CustomResourceDefinition found in
// the given YAML files or folders of YAML files, waits until each is
// established and discovery lists its served versions (clients map kinds
// through discovery, which the API server updates after establishing),
// and returns their names. Other kinds of documents are ignored.
func (e *Env) InstallCRDs(ctx context.Context, paths ...string) ([]string, error) {
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	var crds []*unstructured.Unstructured
	for _, p := range paths {
		objs, err := readCRDs(p)
		if err != nil {
			return nil, err
		}
		crds = append(crds, objs...)
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition found in %s", strings.Join(paths, ", "))
	}
	var names []string
	for _, crd := range crds {
		_, err := dyn.Resource(crdGVR).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil {
			return nil, fmt.Errorf("applying CRD %s: %w", crd.GetName(), err)
		}
		names = append(names, crd.GetName())
	}
	dc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := waitEstablished(ctx, dyn, dc, name); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, dc discovery.DiscoveryInterface, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		established := false
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			established = established || m["type"] == "Established" && m["status"] == "True"
		}
		if !established {
			return false, nil
		}
		return discovered(dc, crd), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for CRD %s to be established and discovered: %w", name, err)
	}
	return nil
}

// discovered reports whether discovery lists the resource of every served
// version of crd.
func discovered(dc discovery.DiscoveryInterface, crd *unstructured.Unstructured) bool {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); !served {
			continue
		}
		version, _ := m["name"].(string)
		list, err := dc.ServerResourcesForGroupVersion(group + "/" + version)
		if err != nil {
			return false
		}
		found := false
		for _, r := range list.APIResources {
			found = found || r.Name == plural
		}
		if !found {
			return false
		}
	}
	return true
}

// readCRDs reads the CRDs of a YAML file, or of every .yaml/.yml file in a folder.
func readCRDs(path string) ([]*unstructured.Unstructured, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		files = nil
		for _, en := range entries {
			if ext := filepath.Ext(en.Name()); !en.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(path, en.Name()))
			}
		}
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("reading %s: %w", f, err)
			}
			u := &unstructured.Unstructured{Object: obj}
			if obj != nil && u.GetKind() == "CustomResourceDefinition" {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// GatewayAPICRDs returns the folder of the standard-channel Gateway API CRDs
// in the Go module cache, at the version pinned in hack/tools/crds/go.mod.
func GatewayAPICRDs(ctx context.Context) (string, error) {
	dir, err := moduleDir(ctx, "sigs.k8s.io/gateway-api")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "config", "crd", "standard"), nil
}

// IstioCRDs returns the file with all Istio CRDs in the Go module cache, at
// the version of istio.io/api pinned in hack/tools/crds/go.mod.
func IstioCRDs(ctx context.Context) (string, error) {
	dir, err := moduleDir(ctx, "istio.io/api")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml"), nil
}

// TraefikCRDs returns the file with Traefik's CRDs (traefik.io) in the Go
// module cache, at the version hack/tools/traefik builds.
func TraefikCRDs(ctx context.Context) (string, error) {
	dir, err := toolsModuleDir(ctx, "traefik", "github.com/traefik/traefik/v3")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "docs", "content", "reference", "dynamic-configuration", "kubernetes-crd-definition-v1.yml"), nil
}

// FluxCRDs returns the folders of the CRDs of Flux's source-controller and
// kustomize-controller in the Go module cache, at the versions pinned in
// hack/tools/flux/go.mod (which builds them for the end-to-end tests).
func FluxCRDs(ctx context.Context) ([]string, error) {
	var dirs []string
	for _, m := range []string{"github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"} {
		dir, err := toolsModuleDir(ctx, "flux", m)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(dir, "config", "crd", "bases"))
	}
	return dirs, nil
}

// moduleDir downloads (if needed) the module at the version pinned by the
// CRD tools module and returns its folder in the module cache.
func moduleDir(ctx context.Context, module string) (string, error) {
	return toolsModuleDir(ctx, "crds", module)
}

// toolsModuleDir downloads (if needed) the module at the version pinned by
// the tools module hack/tools/<tools> and returns its folder in the module
// cache.
func toolsModuleDir(ctx context.Context, tools, module string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = filepath.Join(root, "hack", "tools", tools)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("go mod download %s: %w: %s", module, err, exit.Stderr)
		}
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, m.Error)
	}
	return m.Dir, nil
}
