package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// knativeLocalGateway is the in-cluster gateway of Knative Serving with
// Istio, which KServe's serverless predictors sit behind.
const knativeLocalGateway = "knative-local-gateway.istio-system.svc.cluster.local"

// kserve renders, for KServe InferenceServices in serverless mode, an Istio
// VirtualService that sends each version's requests to the Knative local
// gateway with the Host of the version's predictor
// (<inferenceService>-predictor.<namespace>.svc.cluster.local), and an
// ExternalName Service <app> so that the app's host name resolves.
type kserve struct{}

func (kserve) Render(p *Plan) ([]*unstructured.Unstructured, error) {
	s := &p.Route.Spec
	targets := make([]istioTarget, len(s.Versions))
	for i := range s.Versions {
		predictor := serviceHost(p, p.version(i).InferenceService.Name+"-predictor")
		targets[i] = istioTarget{host: knativeLocalGateway, setRequest: map[string]string{"Host": predictor}}
	}
	gateways := s.Gateways
	if len(gateways) == 0 {
		gateways = []string{"knative-serving/knative-local-gateway", "mesh"}
	}
	vs := virtualService(p, hostsOr(p, serviceHost(p, s.App)), gateways, targets)

	portName := "http"
	if s.Protocol == v1alpha1.ProtocolGRPC {
		portName = "grpc"
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(p, s.App),
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: knativeLocalGateway,
			Ports:        []corev1.ServicePort{{Name: portName, Port: 80, TargetPort: intstr.FromInt32(80)}},
		},
	}
	return manifest.ToUnstructured(vs, svc)
}
