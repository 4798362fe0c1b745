package image

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/pkg/version"
)

// PodSecurityContext is the security context of every pod that runs one
// of iter8's images: as the image's numeric user and group (runAsUser, not
// only runAsNonRoot, so that a cluster need not look the user up), owning
// its volumes (fsGroup), with the runtime's default seccomp profile.
func PodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To(version.ImageUID),
		RunAsGroup:     ptr.To(version.ImageUID),
		FSGroup:        ptr.To(version.ImageUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}
