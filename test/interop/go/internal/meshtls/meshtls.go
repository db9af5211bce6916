// Package meshtls holds what both Go HBONE peers need from TLS: loading the
// mesh certificate files and reading SPIFFE identities out of certificates.
package meshtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Files names the PEM files every peer takes on its command line.
type Files struct {
	CertChain string // leaf first, then intermediates
	Key       string
	Roots     string
}

// Load reads the key pair and the trust roots.
func (f Files) Load() (tls.Certificate, *x509.CertPool, error) {
	if f.CertChain == "" || f.Key == "" || f.Roots == "" {
		return tls.Certificate{}, nil, errors.New("--cert, --key and --roots are all required")
	}
	pair, err := tls.LoadX509KeyPair(f.CertChain, f.Key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("loading %s / %s: %w", f.CertChain, f.Key, err)
	}
	rootsPEM, err := os.ReadFile(f.Roots)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("reading roots: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootsPEM) {
		return tls.Certificate{}, nil, fmt.Errorf("no certificate found in %s", f.Roots)
	}
	return pair, roots, nil
}

// SpiffeIDs lists the spiffe:// URI SANs of a certificate, in order.
func SpiffeIDs(cert *x509.Certificate) []string {
	var ids []string
	for _, uri := range cert.URIs {
		if uri.Scheme == "spiffe" {
			ids = append(ids, uri.String())
		}
	}
	return ids
}

// PeerIdentity names the peer of a finished handshake by its first SPIFFE ID,
// the same rule ztunnel uses for the source identity.
func PeerIdentity(state *tls.ConnectionState) string {
	if state == nil || len(state.PeerCertificates) == 0 {
		return "<no client certificate>"
	}
	ids := SpiffeIDs(state.PeerCertificates[0])
	if len(ids) == 0 {
		return "<no spiffe identity>"
	}
	return ids[0]
}

// VerifyChain checks the peer's chain against the roots for the given usage.
// The peers dial and serve bare IP addresses, so unlike crypto/tls's default
// verification there is no host name to compare: identity is the SPIFFE SAN.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return errors.New("peer sent no certificate")
	}
	intermediates := x509.NewCertPool()
	for _, cert := range chain[1:] {
		intermediates.AddCert(cert)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	return err
}
