package cli

import (
	"context"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/pkg/gitops"
)

// PrintObjects writes objects as kubectl prints several: a JSON List when
// format is json, else YAML documents separated by "---", each as it would
// be written to Git (gitops.Marshal).
func PrintObjects(w io.Writer, format string, objs []*unstructured.Unstructured) error {
	if format == OutputJSON {
		items := make([]any, len(objs))
		for i, obj := range objs {
			items[i] = obj.Object
		}
		return PrintJSON(w, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	for i, obj := range objs {
		b, err := gitops.Marshal(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// ApplyObjects applies objects in order with server-side apply as
// fieldManager, taking ownership of conflicting fields, to the cluster of
// flags; applied is called after each, with the object's REST mapping.
func ApplyObjects(ctx context.Context, flags *genericclioptions.ConfigFlags, fieldManager string, objs []*unstructured.Unstructured, applied func(*meta.RESTMapping, *unstructured.Unstructured)) error {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	mapper, err := flags.ToRESTMapper()
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("finding the resource of %s: %w", gvk.Kind, err)
		}
		_, err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj,
			metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		applied(m, obj)
	}
	return nil
}
