package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLS is the sandbox's HTTPS setup (--tls): a certificate authority made
// at start, and a server certificate it signed for the loopback names.
// Clients trust the CA through SSL_CERT_FILE, as they would a company CA
// in front of a real gateway, so TLS verification stays on everywhere.
type TLS struct {
	// Config serves the leaf certificate, HTTP/1.1 only: some sandbox
	// faults take over the connection (a hijack), which HTTP/2 cannot do.
	Config *tls.Config
	// CAPEM is the CA certificate, PEM-encoded.
	CAPEM []byte
	// CAFile is where CAPEM was written.
	CAFile string
	// remove deletes CAFile when the sandbox made it up itself.
	remove bool
}

// tlsValidity is how long the generated certificates are valid: longer
// than any sandbox runs, short enough that a leaked CA file soon means
// nothing. Its start is an hour back, for clocks a little behind.
const tlsValidity = 7 * 24 * time.Hour

// NewTLS generates a CA (ECDSA P-256) and a server certificate for
// 127.0.0.1, ::1 and localhost, and writes the CA certificate to caFile
// (a new file in the temporary directory when caFile is "", removed by
// Close). The CA's private key never leaves memory: nothing else can be
// signed with it once the sandbox exits.
func NewTLS(caFile string) (*TLS, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the CA key: %v", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "rack-gateway-sandbox CA", Organization: []string{"rack-gateway sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(tlsValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create the CA certificate: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the server key: %v", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(tlsValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create the server certificate: %v", err)
	}
	t := &TLS{
		CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Config: &tls.Config{
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
			Certificates: []tls.Certificate{{
				// The chain a client needs besides its trusted CA.
				Certificate: [][]byte{leafDER},
				PrivateKey:  leafKey,
			}},
		},
	}
	if err := t.write(caFile); err != nil {
		return nil, err
	}
	return t, nil
}

// write stores the CA certificate: through a temporary file and a rename,
// so a client never reads half of it.
func (t *TLS) write(path string) error {
	if path == "" {
		f, err := os.CreateTemp("", "rack-gateway-sandbox-ca-*.pem")
		if err != nil {
			return fmt.Errorf("create the CA file: %v", err)
		}
		_, werr := f.Write(t.CAPEM)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(f.Name())
			return fmt.Errorf("write the CA file: %v", werr)
		}
		t.CAFile, t.remove = f.Name(), true
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("--ca-file %q: %v", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".ca-*.pem")
	if err != nil {
		return fmt.Errorf("write the CA file %s: %v", abs, err)
	}
	_, werr := tmp.Write(t.CAPEM)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	// A CA certificate is public: readable like the system's.
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), abs)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write the CA file %s: %v", abs, werr)
	}
	t.CAFile = abs
	return nil
}

// Close removes the CA file if the sandbox chose its name; a file named
// with --ca-file is left for whoever asked for it.
func (t *TLS) Close() {
	if t != nil && t.remove {
		_ = os.Remove(t.CAFile)
	}
}

// Listener serves TLS on ln.
func (t *TLS) Listener(ln net.Listener) net.Listener { return tls.NewListener(ln, t.Config) }

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
