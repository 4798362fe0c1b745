package render

import (
	istionet "istio.io/api/networking/v1"
	istioclient "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// ModelMesh's serving Service and the label of its pods, as KServe ModelMesh
// Serving installs them.
const (
	modelMeshService       = "modelmesh-serving"
	modelMeshServiceLabel  = "modelmesh-service"
	modelMeshGRPCPort      = 8033
	modelMeshHTTPPort      = 8008
	modelMeshVModelIDField = "mm-vmodel-id"
)

// modelMesh renders, for KServe ModelMesh predictors, an Istio ServiceEntry
// that gives the app a host name served by the ModelMesh pods, and a
// VirtualService that sends each version's requests to the modelmesh-serving
// Service with the mm-vmodel-id header naming the version's predictor.
type modelMesh struct{}

func (modelMesh) Render(p *Plan) ([]*unstructured.Unstructured, error) {
	s := &p.Route.Spec
	port, portName, protocol := int32(modelMeshGRPCPort), "grpc", "GRPC"
	if s.Protocol == v1alpha1.ProtocolHTTP {
		port, portName, protocol = modelMeshHTTPPort, "http", "HTTP"
	}
	if s.Port != nil {
		port = *s.Port
	}
	ns := p.Route.Namespace
	hosts := hostsOr(p, s.App+"."+ns, s.App+"."+ns+".svc", serviceHost(p, s.App))

	se := &istioclient.ServiceEntry{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "ServiceEntry"},
		ObjectMeta: objectMeta(p, s.App),
	}
	se.Spec.Hosts = hosts
	se.Spec.Location = istionet.ServiceEntry_MESH_INTERNAL
	se.Spec.Resolution = istionet.ServiceEntry_STATIC
	se.Spec.Ports = []*istionet.ServicePort{{Number: uint32(port), Name: portName, Protocol: protocol}}
	se.Spec.WorkloadSelector = &istionet.WorkloadSelector{Labels: map[string]string{modelMeshServiceLabel: modelMeshService}}

	targets := make([]istioTarget, len(s.Versions))
	for i := range s.Versions {
		targets[i] = istioTarget{
			host:       serviceHost(p, modelMeshService),
			port:       uint32(port),
			setRequest: map[string]string{modelMeshVModelIDField: p.version(i).InferenceService.Name},
		}
	}
	vs := virtualService(p, hosts, s.Gateways, targets)
	return manifest.ToUnstructured(vs, se)
}
