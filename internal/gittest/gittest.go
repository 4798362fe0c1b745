// Package gittest serves Git repositories over HTTP on 127.0.0.1 (or an
// address of the test's network namespace) for tests,
// through the real git http-backend (Git's smart HTTP server), and runs the
// git CLI with a configuration isolated from the user's. It needs git on
// PATH and is imported only by tests.
package gittest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/internal/testpki"
)

// Server is a Git HTTP server holding bare repositories.
type Server struct {
	// URL is the server's base URL; a repository's URL is URL + "/" + name.
	URL string
	// Root is the folder holding the bare repositories.
	Root string
	// CA is the PEM certificate that signs the server's, with TLS.
	CA []byte
	// ClientCert and ClientKey are a PEM client certificate, and its key,
	// that the server accepts, with ClientCertificates.
	ClientCert, ClientKey []byte
}

// ServerOptions configure NewServer.
type ServerOptions struct {
	// Username and Password, when set, are required as HTTP basic auth.
	Username, Password string
	// BearerToken, when set, is required as an Authorization: Bearer
	// header.
	BearerToken string
	// TLS serves https, with a certificate for 127.0.0.1 of a test
	// authority (Server.CA).
	TLS bool
	// ClientCertificates, with TLS, requires a client certificate of
	// another test authority (mutual TLS); Server.ClientCert holds one.
	ClientCertificates bool
	// Addr is the address listened on; default 127.0.0.1 on a free port.
	// Tests whose pods clone set their network namespace's node IP.
	Addr string
}

// NewServer starts a Git server on 127.0.0.1 (or opts.Addr) that accepts
// pushes; it stops when the test ends.
func NewServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git CLI is needed to serve Git over HTTP: %v", err)
	}
	root := t.TempDir()
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env: append(isolatedEnv(t), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true"),
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.BearerToken != "" && r.Header.Get("Authorization") != "Bearer "+opts.BearerToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if opts.Username != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != opts.Username || p != opts.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(h)
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	s := &Server{Root: root}
	if opts.TLS {
		if opts.ClientCertificates {
			ca, cert, key := clientAuthority(t)
			srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca}
			s.ClientCert, s.ClientKey = cert, key
		}
		srv.StartTLS()
		s.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// clientAuthority makes a test certificate authority and a client
// certificate it signs: the pool that trusts it, and the certificate and
// key as PEM.
func clientAuthority(t testing.TB) (*x509.CertPool, []byte, []byte) {
	t.Helper()
	ca, err := testpki.NewCA("gittest client CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Client("iter8")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool, cert, key
}

// NewRepository creates a bare repository name on the server whose main
// branch holds one commit with the given files, and returns its URL.
func (s *Server) NewRepository(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	bare := filepath.Join(s.Root, name)
	Git(t, s.Root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	seed := t.TempDir()
	Git(t, seed, "init", "--quiet", "--initial-branch=main")
	for path, content := range files {
		WriteFile(t, filepath.Join(seed, path), content)
	}
	Git(t, seed, "add", "--all")
	Git(t, seed, "commit", "--quiet", "-m", "initial")
	Git(t, seed, "push", "--quiet", bare, "main")
	return s.URL + "/" + name
}

// Git runs the git CLI in dir with an isolated configuration (a test
// author, no user or system config) and returns its trimmed output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = isolatedEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Clone clones url into a new folder with the git CLI and returns it.
func Clone(t testing.TB, url string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	Git(t, filepath.Dir(dir), "clone", "--quiet", url, dir)
	return dir
}

// WriteFile writes a file, creating its folders.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// isolatedEnv keeps the user's and the system's Git configuration out.
func isolatedEnv(t testing.TB) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com")
}
