// Package gitops writes Kubernetes objects as kustomize directories for Git
// repositories that Flux (or any kustomize-aware tool) applies, and builds
// such directories back into objects with the embedded kustomize.
package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/internal/manifest"
)

// KustomizationFile is the name of the kustomization in a directory.
const KustomizationFile = "kustomization.yaml"

// FileName is the file an object is written to: <kind>-<name>.yaml in lower
// case, e.g. "virtualservice-checkout.yaml".
func FileName(obj *unstructured.Unstructured) string {
	return strings.ToLower(obj.GetKind()) + "-" + obj.GetName() + ".yaml"
}

// WriteDir writes objs into dir as one file each (see FileName) plus a
// kustomization.yaml that lists them in order of file name. The output is
// byte-for-byte the same for the same objects. Files of dir that a previous
// WriteDir wrote and that are no longer listed are removed; other files are
// left alone. Everything is rendered before anything is written, so bad
// input leaves dir untouched.
func WriteDir(dir string, objs []*unstructured.Unstructured) error {
	files := map[string][]byte{}
	for _, o := range objs {
		name := FileName(o)
		if _, dup := files[name]; dup {
			return fmt.Errorf("two objects would be written to %s: kind and name must be unique", name)
		}
		b, err := manifest.Marshal(o)
		if err != nil {
			return err
		}
		files[name] = b
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  names,
	}
	kb, err := yaml.Marshal(k)
	if err != nil {
		return err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	previous, err := listedResources(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := writeIfChanged(filepath.Join(dir, n), files[n]); err != nil {
			return err
		}
	}
	if err := writeIfChanged(filepath.Join(dir, KustomizationFile), kb); err != nil {
		return err
	}
	for _, p := range previous {
		if _, ok := files[p]; !ok && !strings.ContainsAny(p, `/\`) {
			if err := os.Remove(filepath.Join(dir, p)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// listedResources returns the resources of dir's kustomization, if any.
func listedResources(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, KustomizationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, KustomizationFile), err)
	}
	return k.Resources, nil
}

// writeIfChanged writes b to path atomically unless it already holds b, so
// that unchanged files keep their times and Git sees no change.
func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// kustomizeMu serialises builds: kustomize is not safe for concurrent use.
var kustomizeMu sync.Mutex

// Build runs the embedded kustomize on dir (built-in plugins only) and
// returns the objects it produces. A panic inside kustomize is returned as
// an error.
func Build(dir string) (objs []*unstructured.Unstructured, err error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize build of %s panicked: %v", dir, r)
		}
	}()
	opts := krusty.MakeDefaultOptions()
	resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build of %s: %w", dir, err)
	}
	for _, r := range resMap.Resources() {
		// Through JSON, so that numbers are int64 or float64 as everywhere
		// else in unstructured objects (kustomize gives int).
		b, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
	return objs, nil
}
