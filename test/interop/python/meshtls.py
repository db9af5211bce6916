"""What both Python HBONE peers need from TLS and addresses: the certificate
flags, TLS 1.3 mutual-auth contexts with ALPN h2, SPIFFE identities, ip:port."""

import argparse
import ipaddress
import socket
import ssl

# ztunnel gives up on a TCP connect after 10 s; so do we.
CONNECT_TIMEOUT_S = 10


def add_cert_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--cert', required=True, help='PEM certificate chain, leaf first')
    parser.add_argument('--key', required=True, help='PEM private key')
    parser.add_argument('--roots', required=True, help='PEM trust roots')


def _mesh_context(protocol: int, args: argparse.Namespace) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(args.cert, args.key)
    context.load_verify_locations(cafile=args.roots)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(['h2'])
    return context


def client_context(args: argparse.Namespace) -> ssl.SSLContext:
    """Verifies the server chain against the roots; identity is the SPIFFE SAN,
    checked by the caller, since mesh certificates name no host or IP."""
    context = _mesh_context(ssl.PROTOCOL_TLS_CLIENT, args)
    context.check_hostname = False
    return context


def server_context(args: argparse.Namespace) -> ssl.SSLContext:
    """Requires a client certificate that chains to the roots."""
    return _mesh_context(ssl.PROTOCOL_TLS_SERVER, args)


def spiffe_ids(peer_cert: dict | None) -> list[str]:
    """The spiffe:// URI SANs of a certificate as returned by getpeercert()."""
    if not peer_cert:
        return []
    return [
        value
        for kind, value in peer_cert.get('subjectAltName', ())
        if kind == 'URI' and value.startswith('spiffe://')
    ]


def peer_identity(peer_cert: dict | None) -> str:
    """The first SPIFFE ID, the rule ztunnel uses for the source identity."""
    ids = spiffe_ids(peer_cert)
    return ids[0] if ids else '<no spiffe identity>'


def parse_ip_port(text: str, allow_any_port: bool = False) -> tuple[socket.AddressFamily, str, int] | None:
    """Parses 'ip:port' or '[ipv6]:port' with a literal IP and port 1..65535
    (or 0 with allow_any_port, for listeners); None for anything else, host
    names included."""
    host, sep, port = text.rpartition(':')
    if not sep or not port.isdigit():
        return None
    if host.startswith('[') and host.endswith(']'):
        host = host[1:-1]
        bracketed = True
    else:
        bracketed = False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if (ip.version == 6) != bracketed:
        return None
    number = int(port)
    if not (0 if allow_any_port else 1) <= number < 65536:
        return None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return family, str(ip), number


def format_ip_port(address: tuple) -> str:
    """Formats a socket address tuple as ip:port, IPv6 in brackets."""
    host, port = address[0], address[1]
    return f'[{host}]:{port}' if ':' in host else f'{host}:{port}'
