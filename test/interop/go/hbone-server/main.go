// Command hbone-server terminates HBONE with nothing but Go's standard library:
// mutual TLS 1.3 (client certificate required and verified against the roots),
// ALPN h2, and for every HTTP/2 CONNECT stream a TCP connection to the
// :authority, with bytes copied both ways. It exists to prove that our ztunnel's
// HBONE client talks to an HTTP/2 server we did not write.
//
//	hbone-server --listen 127.0.0.x:port --cert cert-chain.pem --key key.pem --roots root-cert.pem
//
// Prints "listening <ip:port>" on stdout once it accepts connections (port 0
// picks a free port). Answers 400 to anything but CONNECT with an ip:port
// authority, 503 when the target refuses, else 200 and then the raw bytes.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"ambient.test/interop/internal/meshtls"
)

// ztunnel gives up on a TCP connect to a backend after 10 s; so do we.
const connectTimeoutMs = 10_000

const copyBufferBytes = 64 << 10

var logger = log.New(os.Stderr, "hbone-server: ", log.Lmicroseconds)

// parseTarget accepts only what an HBONE :authority may be here: a literal IP
// and a port in 1..65535 (IPv6 in brackets).
func parseTarget(authority string) (string, error) {
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "", fmt.Errorf("%q is not an IP address", host)
	}
	portNumber, err := strconv.ParseUint(port, 10, 16)
	if err != nil || portNumber == 0 {
		return "", fmt.Errorf("%q is not a port", port)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

type tunnelHandler struct{}

func (tunnelHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	peer := meshtls.PeerIdentity(r.TLS)
	if r.ProtoMajor != 2 || r.Method != http.MethodConnect {
		logger.Printf("reject 400 peer=%s: %s %s over %s", peer, r.Method, r.RequestURI, r.Proto)
		http.Error(w, "HBONE accepts only HTTP/2 CONNECT", http.StatusBadRequest)
		return
	}
	// For CONNECT, net/http puts :authority in r.Host.
	target, err := parseTarget(r.Host)
	if err != nil {
		logger.Printf("reject 400 peer=%s authority=%q: %v", peer, r.Host, err)
		http.Error(w, "bad authority", http.StatusBadRequest)
		return
	}
	conn, err := net.DialTimeout("tcp", target, connectTimeoutMs*time.Millisecond)
	if err != nil {
		logger.Printf("reject 503 peer=%s target=%s: %v", peer, target, err)
		http.Error(w, "target unreachable", http.StatusServiceUnavailable)
		return
	}
	upstream, ok := conn.(*net.TCPConn)
	if !ok {
		panic(fmt.Sprintf("tcp dial returned %T", conn))
	}
	defer upstream.Close()

	// 200 only now that the target answered, and flushed at once: the client
	// waits for it before sending a byte.
	w.WriteHeader(http.StatusOK)
	flusher, ok := w.(http.Flusher)
	if !ok {
		panic("HTTP/2 response writer cannot flush")
	}
	flusher.Flush()
	logger.Printf("tunnel open peer=%s target=%s from=%s", peer, target, r.RemoteAddr)

	// A reset stream or a lost connection cancels the request context; closing
	// the target then unblocks both copies.
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	go func() {
		<-ctx.Done()
		_ = upstream.Close()
	}()

	var fromClient, toClient atomic.Int64
	clientDone := make(chan error, 1)
	go func() {
		// Client END_STREAM becomes a FIN to the target; the other direction goes on.
		n, err := io.CopyBuffer(upstream, r.Body, make([]byte, copyBufferBytes))
		fromClient.Store(n)
		if err != nil {
			_ = upstream.Close()
		} else {
			_ = upstream.CloseWrite()
		}
		clientDone <- err
	}()

	targetErr := copyFlushing(w, flusher, upstream, &toClient)
	if targetErr != nil {
		// The target broke (or the client went away): stop the other copy too.
		_ = upstream.Close()
	}
	// net/http ends the response stream only when this handler returns, and it
	// would reset a request side still open then. So a target that finishes
	// first still waits for the client's END_STREAM before ours goes out.
	clientErr := <-clientDone
	logger.Printf("tunnel closed peer=%s target=%s bytes_from_client=%d bytes_to_client=%d client_err=%v target_err=%v",
		peer, target, fromClient.Load(), toClient.Load(), clientErr, targetErr)
	if targetErr != nil && clientErr == nil {
		// A broken target connection must not look like a clean end of stream:
		// this makes net/http reset the stream instead of ending it.
		panic(http.ErrAbortHandler)
	}
}

// copyFlushing copies target → client, flushing after every read: a tunnel must
// not hold bytes back waiting for a full buffer.
func copyFlushing(w io.Writer, flusher http.Flusher, upstream io.Reader, counter *atomic.Int64) error {
	buf := make([]byte, copyBufferBytes)
	for {
		n, err := upstream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			flusher.Flush()
			counter.Add(int64(n))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func main() {
	var listen string
	var files meshtls.Files
	flag.StringVar(&listen, "listen", "", "ip:port to listen on (port 0 = any free port)")
	flag.StringVar(&files.CertChain, "cert", "", "PEM certificate chain, leaf first")
	flag.StringVar(&files.Key, "key", "", "PEM private key")
	flag.StringVar(&files.Roots, "roots", "", "PEM trust roots for client certificates")
	flag.Parse()
	if listen == "" {
		logger.Fatal("--listen is required")
	}
	pair, roots, err := files.Load()
	if err != nil {
		logger.Fatal(err)
	}

	server := &http.Server{
		Handler:  tunnelHandler{},
		ErrorLog: logger,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			MaxVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{pair},
			// Standard chain verification with the clientAuth usage; mesh
			// client certificates carry no host names, so nothing else to check.
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  roots,
			// h2 only (ServeTLS would add http/1.1). A client that offers no
			// ALPN at all still gets HTTP/1.1, which the handler refuses.
			NextProtos: []string{"h2"},
		},
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		logger.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	// Serve sets up HTTP/2 because the TLS config lists h2.
	if err := server.Serve(tls.NewListener(ln, server.TLSConfig)); err != nil {
		logger.Fatal(err)
	}
}
