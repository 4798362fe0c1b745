package testenv

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/crypto/bcrypt"
)

// Registry is a container registry (CNCF Distribution's, built by
// hack/controlplane.sh registry) on a loopback port, storing in a
// temporary directory, with one user.
type Registry struct {
	// Host is its HOST:PORT, the first part of its image references.
	Host string
	// User and Password are the credentials it accepts (htpasswd).
	User, Password string
}

// StartRegistry builds (once, cached by version) and starts a registry that
// accepts pushes and pulls from User with Password over plain HTTP, until
// the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	bin := cachedTool(t, "registry")
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", ports[0]), User: "iter8", Password: "test-password"}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", r.User, hash), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: %s}
  delete: {enabled: true}
http:
  addr: %s
auth:
  htpasswd: {realm: iter8-test, path: %s}
`, filepath.Join(dir, "data"), r.Host, htpasswd), 0o600); err != nil {
		t.Fatal(err)
	}
	StartProcess(t, "registry", []string{"OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true"}, bin, "serve", config)
	// /v2/ answers 401 to an anonymous client once the registry serves.
	if err := waitHTTP(t.Context(), "http://"+r.Host+"/v2/", http.StatusUnauthorized, 30*time.Second); err != nil {
		t.Fatalf("the registry: %v", err)
	}
	return r
}

// DockerConfig writes a Docker config.json with the registry's credentials
// in a new directory and returns that directory, the value of DOCKER_CONFIG
// for crane, ko, podman (--authfile) and iter8.
func (r *Registry) DockerConfig(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	auth := fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q}}}`, r.Host, r.User, r.Password)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Auth is the registry's credentials for go-containerregistry's remote.
func (r *Registry) Auth() authn.Authenticator {
	return &authn.Basic{Username: r.User, Password: r.Password}
}
