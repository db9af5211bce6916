// Command hbone-client opens one HBONE tunnel with nothing but Go's standard
// library: mutual TLS 1.3, ALPN h2, one HTTP/2 CONNECT stream, then stdin is
// copied into the stream and the stream out to stdout. It exists to prove that
// our ztunnel talks to an HTTP/2 stack we did not write.
//
//	hbone-client --connect 127.0.0.x:15008 --authority ip:port \
//	  [--expect-san spiffe://...] --cert cert-chain.pem --key key.pem --roots root-cert.pem
//
// Exit codes: 0 = status 200 and both directions ended cleanly; 1 = bad usage
// or files; 2 = TCP/TLS/ALPN/identity failure or no response; 3 = a status
// other than 200; 4 = the stream broke after 200 (reset, connection lost).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ambient.test/interop/internal/meshtls"
)

const (
	exitOK      = 0
	exitUsage   = 1
	exitConnect = 2
	exitStatus  = 3
	exitStream  = 4
)

// ztunnel gives up on a TCP connect to a peer after 10 s; so do we.
const connectTimeoutMs = 10_000

const copyBufferBytes = 256 << 10

type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ", ") }

func (h *headerFlags) Set(value string) error {
	if !strings.Contains(value, ":") {
		return fmt.Errorf("header %q is not 'name: value'", value)
	}
	*h = append(*h, value)
	return nil
}

type options struct {
	connect    string
	authority  string
	expectSAN  string
	method     string
	extraHeads headerFlags
	files      meshtls.Files
}

func parseOptions() options {
	var o options
	flag.StringVar(&o.connect, "connect", "", "ip:port of the HBONE server (e.g. 127.0.0.2:15008)")
	flag.StringVar(&o.authority, "authority", "", ":authority of the CONNECT request, the tunnel target ip:port")
	flag.StringVar(&o.expectSAN, "expect-san", "", "require this URI SAN on the server certificate")
	flag.StringVar(&o.method, "method", http.MethodConnect, "request method; anything but CONNECT is for negative tests")
	flag.Var(&o.extraHeads, "header", "extra request header 'name: value' (repeatable), e.g. baggage")
	flag.StringVar(&o.files.CertChain, "cert", "", "PEM certificate chain, leaf first")
	flag.StringVar(&o.files.Key, "key", "", "PEM private key")
	flag.StringVar(&o.files.Roots, "roots", "", "PEM trust roots")
	flag.Parse()
	if o.connect == "" || o.authority == "" {
		fail(exitUsage, "--connect and --authority are required")
	}
	return o
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "hbone-client: "+format+"\n", args...)
	os.Exit(code)
}

// clientTLSConfig verifies the server itself: the chain against the roots and,
// when asked, the SPIFFE SAN. crypto/tls's built-in check would also demand
// that the certificate name the IP we dialled, which mesh certificates never do,
// so it is switched off and replaced by VerifyConnection, which runs on every
// handshake.
func clientTLSConfig(pair tls.Certificate, roots *x509.CertPool, expectSAN string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		// Always present the certificate, like ztunnel, rather than letting
		// crypto/tls drop it when the server's CA hints do not name our issuer:
		// the server's own verification is what we want to exercise.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
		NextProtos:           []string{"h2"},
		InsecureSkipVerify:   true, // see above: VerifyConnection does the real check
		VerifyConnection: func(state tls.ConnectionState) error {
			if err := meshtls.VerifyChain(state.PeerCertificates, roots, x509.ExtKeyUsageServerAuth); err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			if expectSAN == "" {
				return nil
			}
			for _, uri := range state.PeerCertificates[0].URIs {
				if uri.String() == expectSAN {
					return nil
				}
			}
			return fmt.Errorf("server certificate has URI SANs %v, want %s",
				meshtls.SpiffeIDs(state.PeerCertificates[0]), expectSAN)
		},
	}
}

// stdinBody is the request body. It tells main when the transport is finished
// with it, and whether it got all the way to stdin's EOF (so END_STREAM went out)
// rather than being abandoned because the stream broke.
type stdinBody struct {
	source io.Reader
	sawEOF atomic.Bool
	once   sync.Once
	closed chan struct{}
}

func (b *stdinBody) Read(p []byte) (int, error) {
	n, err := b.source.Read(p)
	if errors.Is(err, io.EOF) {
		b.sawEOF.Store(true)
	}
	return n, err
}

// Close leaves stdin itself open: a read blocked in it cannot be interrupted
// anyway, and the process is about to exit.
func (b *stdinBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func randomHex(bytes int) string {
	buf := make([]byte, bytes)
	if _, err := rand.Read(buf); err != nil {
		fail(exitUsage, "random: %v", err)
	}
	return hex.EncodeToString(buf)
}

func buildRequest(o options, local net.Addr, body *stdinBody) *http.Request {
	url := "https://" + o.authority
	if o.method != http.MethodConnect {
		url += "/"
	}
	req, err := http.NewRequest(o.method, url, body)
	if err != nil {
		fail(exitUsage, "bad --authority %q: %v", o.authority, err)
	}
	// The h2 transport puts req.Host in :authority and, for CONNECT, sends no
	// :scheme or :path.
	req.Host = o.authority
	// Same shape as a real ztunnel's request; baggage can be added with --header.
	req.Header.Set("Traceparent", "00-"+randomHex(16)+"-"+randomHex(8)+"-00")
	req.Header.Set("Forwarded", fmt.Sprintf("for=%q", local.String()))
	for _, h := range o.extraHeads {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return req
}

func main() {
	o := parseOptions()
	pair, roots, err := o.files.Load()
	if err != nil {
		fail(exitUsage, "%v", err)
	}

	// Dial and handshake ourselves so a TLS or identity failure is reported as
	// such, and so the local address is known for the forwarded header.
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: connectTimeoutMs * time.Millisecond},
		Config:    clientTLSConfig(pair, roots, o.expectSAN),
	}
	conn, err := dialer.DialContext(context.Background(), "tcp", o.connect)
	if err != nil {
		fail(exitConnect, "connect %s: %v", o.connect, err)
	}
	tlsConn, ok := conn.(*tls.Conn)
	if !ok {
		fail(exitConnect, "dialer returned %T, not a TLS connection", conn)
	}
	if proto := tlsConn.ConnectionState().NegotiatedProtocol; proto != "h2" {
		fail(exitConnect, "server negotiated ALPN %q, want h2", proto)
	}

	// The standard Transport speaks HTTP/2 on any connection whose ALPN says
	// h2; handing it our one connection keeps it from dialling the authority.
	var handedOut atomic.Bool
	transport := &http.Transport{
		ForceAttemptHTTP2:  true,
		DisableCompression: true,
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			if handedOut.Swap(true) {
				return nil, errors.New("hbone-client uses a single connection")
			}
			return tlsConn, nil
		},
	}

	body := &stdinBody{source: os.Stdin, closed: make(chan struct{})}
	res, err := transport.RoundTrip(buildRequest(o, tlsConn.LocalAddr(), body))
	if err != nil {
		fail(exitConnect, "request failed: %v", err)
	}
	fmt.Fprintf(os.Stderr, "status %d\n", res.StatusCode)
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		os.Exit(exitStatus)
	}

	// Full duplex: the transport keeps sending stdin while we read. When stdin
	// hits EOF it sends END_STREAM (half-close) and we keep reading until the
	// server ends its side too.
	if _, err := io.CopyBuffer(os.Stdout, res.Body, make([]byte, copyBufferBytes)); err != nil {
		fail(exitStream, "response stream: %v", err)
	}
	<-body.closed
	if !body.sawEOF.Load() {
		fail(exitStream, "request stream ended before stdin reached EOF")
	}
	_ = res.Body.Close()
	os.Exit(exitOK)
}
