package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/iter8-tools/iter8/internal/testpki"
)

// pki are the control plane's CA, which also signs client certificates
// (kubelets', the API server's own for calling kubelets), and the files of
// its keys and certificates.
type pki struct {
	ca        *testpki.CA
	caPEM     []byte
	caFile    string
	certFile  string
	keyFile   string
	saKeyFile string
	saPubFile string
}

// writePKI writes a CA, a serving certificate for localhost and hosts (IP
// addresses) signed by it, and the ServiceAccount token signing key pair
// into dir.
func writePKI(dir string, hosts ...string) (*pki, error) {
	ca, err := testpki.NewCA("iter8-testenv-ca")
	if err != nil {
		return nil, err
	}
	p := &pki{
		ca:        ca,
		caPEM:     ca.PEM,
		caFile:    filepath.Join(dir, "ca.crt"),
		certFile:  filepath.Join(dir, "apiserver.crt"),
		keyFile:   filepath.Join(dir, "apiserver.key"),
		saKeyFile: filepath.Join(dir, "sa.key"),
		saPubFile: filepath.Join(dir, "sa.pub"),
	}
	ips := []net.IP{net.IPv6loopback}
	for _, h := range hosts {
		ips = append(ips, net.ParseIP(h))
	}
	cert, key, err := ca.Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: ips,
	})
	if err != nil {
		return nil, err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		p.caFile:    p.caPEM,
		p.certFile:  cert,
		p.keyFile:   key,
		p.saKeyFile: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		p.saPubFile: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return p, nil
}

// writeClientCert writes a client certificate for the user cn in the groups
// orgs, signed by the CA, and its key.
func (p *pki) writeClientCert(cn string, orgs []string, certFile, keyFile string) error {
	cert, key, err := p.ca.Client(cn, orgs...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, key, 0o600)
}
