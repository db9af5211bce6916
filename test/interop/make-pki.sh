#!/usr/bin/env bash
# Makes a throwaway mesh PKI with openssl, shaped like Istio's: an ECDSA P-256
# root, an intermediate, and leaf certificates whose only name is a SPIFFE URI
# SAN, usable for both server and client auth.
#
#   make-pki.sh DIR
#
# DIR/root-cert.pem            trust root of the mesh
# DIR/<sa>/cert-chain.pem      leaf first, then the intermediate
# DIR/<sa>/key.pem             the leaf's key
#   for sa = a, b:  spiffe://cluster.local/ns/default/sa/<sa>
# DIR/stranger/...             same layout, from an unrelated root (must be refused)
set -euo pipefail

dir="${1:?usage: make-pki.sh DIR}"
mkdir -p "$dir"
cd "$dir"
days=2

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# make_root NAME: self-signed CA NAME-cert.pem / NAME-key.pem
make_root() {
  new_key "$1-key.pem"
  openssl req -x509 -new -key "$1-key.pem" -out "$1-cert.pem" -days "$days" -subj "/O=$1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# sign CA_PREFIX CSR OUT EXTENSIONS
sign() {
  printf '%s\n' "$4" >"$3.ext"
  openssl x509 -req -in "$2" -CA "$1-cert.pem" -CAkey "$1-key.pem" -CAcreateserial -days "$days" \
    -sha256 -extfile "$3.ext" -out "$3" 2>/dev/null
  rm -f "$3.ext" "$2"
}

# make_intermediate ROOT NAME
make_intermediate() {
  new_key "$2-key.pem"
  openssl req -new -key "$2-key.pem" -subj "/O=$2" -out "$2.csr" 2>/dev/null
  sign "$1" "$2.csr" "$2-cert.pem" "basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign"
}

# make_leaf CA SA_DIR SPIFFE_ID
make_leaf() {
  mkdir -p "$2"
  new_key "$2/key.pem"
  openssl req -new -key "$2/key.pem" -subj "/O=cluster.local" -out "$2/leaf.csr" 2>/dev/null
  sign "$1" "$2/leaf.csr" "$2/leaf.pem" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=critical,URI:$3"
  cat "$2/leaf.pem" "$1-cert.pem" >"$2/cert-chain.pem"
  rm -f "$2/leaf.pem"
}

make_root root
make_intermediate root intermediate
for sa in a b; do
  make_leaf intermediate "$sa" "spiffe://cluster.local/ns/default/sa/$sa"
  cp root-cert.pem "$sa/root-cert.pem"
done

make_root stranger-root
make_leaf stranger-root stranger "spiffe://cluster.local/ns/default/sa/stranger"
cp stranger-root-cert.pem stranger/root-cert.pem
