package manifest_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/iter8-tools/iter8/internal/manifest"
)

// Typed objects carry status: {} and creationTimestamp: null wherever they
// have object metadata; what is printed or committed holds none of them.
func TestPrintLeavesOutWhatTheServerOwns(t *testing.T) {
	pod := corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		SecurityContext: manifest.PodSecurityContext(),
		Containers: []corev1.Container{{
			Name: "c", Image: "i", SecurityContext: manifest.SecurityContext(),
			Resources: manifest.Resources("100m", "64Mi", "", "256Mi"), ReadinessProbe: manifest.HTTPProbe("/readyz", "http"),
		}},
	}}
	objs, err := manifest.ToUnstructured(
		&appsv1.Deployment{TypeMeta: manifest.TypeMeta("apps/v1", "Deployment"), ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"}, Spec: appsv1.DeploymentSpec{Template: pod}},
		&batchv1.CronJob{TypeMeta: manifest.TypeMeta("batch/v1", "CronJob"), ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"},
			Spec: batchv1.CronJobSpec{Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: pod}}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	var y, j bytes.Buffer
	if err := manifest.Print(&y, manifest.YAML, objs); err != nil {
		t.Fatal(err)
	}
	if err := manifest.Print(&j, manifest.JSON, objs); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"yaml": y.String(), "json": j.String()} {
		for _, field := range []string{"status", "creationTimestamp"} {
			if strings.Contains(out, field) {
				t.Errorf("%s holds %s:\n%s", name, field, out)
			}
		}
	}
	if docs := strings.Split(y.String(), "---\n"); len(docs) != 2 || !strings.HasPrefix(docs[1], "apiVersion: batch/v1\nkind: CronJob\n") {
		t.Errorf("yaml is not two documents, the CronJob second:\n%s", y.String())
	}
	var list struct {
		Kind  string
		Items []struct {
			Kind string
			Spec struct {
				Template struct {
					Spec corev1.PodSpec
				}
			}
		}
	}
	if err := json.Unmarshal(j.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 2 || list.Items[0].Kind != "Deployment" {
		t.Fatalf("json list: %+v", list)
	}
	c := list.Items[0].Spec.Template.Spec.Containers[0]
	if !*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" ||
		c.Resources.Limits.Memory().String() != "256Mi" || !c.Resources.Limits.Cpu().IsZero() || c.ReadinessProbe.HTTPGet.Port.StrVal != "http" {
		t.Errorf("container: %+v", c)
	}
}
