#!/usr/bin/python3
"""An HBONE server built on Python's ssl and the sans-IO h2 library.

    hbone_server.py --listen 127.0.0.x:port --cert cert-chain.pem --key key.pem --roots root-cert.pem

Requires TLS 1.3 with a client certificate that chains to the roots, ALPN h2.
Each HTTP/2 CONNECT with an ip:port :authority gets a TCP connection to that
target, then 200 and raw bytes both ways, half-closes included (END_STREAM <->
FIN, in either order). Anything else gets 400; a target that refuses, 503.
Prints "listening <ip:port>" on stdout once ready (port 0 picks a free port)
and logs every tunnel with the peer's SPIFFE identity on stderr.

Run it with Debian's /usr/bin/python3, which is where python3-h2 lives.
"""

import argparse
import errno
import selectors
import socket
import ssl
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import h2.errors  # noqa: E402
import h2.events  # noqa: E402

import meshtls  # noqa: E402
from tunnel import Loop, StreamBridge, TlsConnection, new_h2  # noqa: E402


def log(message: str) -> None:
    print(f'hbone-server: {message}', file=sys.stderr, flush=True)


class HboneServerRole:
    """Drives the server side of every accepted connection."""

    def __init__(self) -> None:
        self._peers: dict[TlsConnection, str] = {}
        self._targets: dict[StreamBridge, str] = {}

    def on_tls_ready(self, conn: TlsConnection) -> None:
        if conn.tls.selected_alpn_protocol() != 'h2':
            conn.close(f'ALPN {conn.tls.selected_alpn_protocol()!r}, want h2')
            return
        self._peers[conn] = meshtls.peer_identity(conn.tls.getpeercert())
        conn.attach_h2(new_h2(client_side=False))

    def on_lost(self, conn: TlsConnection, reason: str) -> None:
        peer = self._peers.pop(conn, '<before handshake>')
        log(f'connection from peer={peer} ended: {reason}')

    def on_h2_events(self, conn: TlsConnection, events: list) -> None:
        def handle(event: h2.events.Event) -> None:
            if isinstance(event, h2.events.RequestReceived):
                self._on_request(conn, event)

        conn.dispatch_events(events, handle)

    def _respond_error(self, conn: TlsConnection, stream_id: int, status: int, why: str) -> None:
        assert conn.h2 is not None
        log(f'reject {status} peer={self._peers.get(conn)}: {why}')
        conn.h2.send_headers(stream_id, [(':status', str(status))], end_stream=True)
        # An error ends the exchange; stop the client from sending a body nobody reads.
        if conn.h2.streams.get(stream_id) is not None and not conn.h2.streams[stream_id].closed:
            conn.h2.reset_stream(stream_id, h2.errors.ErrorCodes.NO_ERROR)

    def _on_request(self, conn: TlsConnection, event: h2.events.RequestReceived) -> None:
        headers = dict(event.headers)
        method = headers.get(':method')
        authority = headers.get(':authority', '')
        if method != 'CONNECT':
            self._respond_error(conn, event.stream_id, 400, f'method {method}')
            return
        # A classic CONNECT has neither :scheme nor :path (RFC 9113 §8.5), and
        # an extended CONNECT (:protocol) is not HBONE.
        extra = sorted(name for name in headers if name in (':scheme', ':path', ':protocol'))
        if extra:
            self._respond_error(conn, event.stream_id, 400, f'CONNECT with {extra}')
            return
        target = meshtls.parse_ip_port(authority)
        if target is None:
            self._respond_error(conn, event.stream_id, 400, f'authority {authority!r} is not ip:port')
            return
        family, host, port = target
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        error = sock.connect_ex((host, port))
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            self._respond_error(conn, event.stream_id, 503, f'connect {authority}: {errno.errorcode.get(error)}')
            return
        bridge = StreamBridge(
            conn, event.stream_id, sock, on_done=self._on_tunnel_done, connecting=True, on_connected=self._on_connected
        )
        self._targets[bridge] = authority

    def _on_connected(self, bridge: StreamBridge, error: int) -> None:
        conn = bridge.conn
        assert conn.h2 is not None
        target = self._targets.get(bridge)
        if error:
            self._respond_error(conn, bridge.stream_id, 503, f'connect {target}: {errno.errorcode.get(error, error)}')
            bridge.abort('target unreachable', reset=False)
            return
        # 200 only now that the target answered.
        conn.h2.send_headers(bridge.stream_id, [(':status', '200')])
        log(f'tunnel open peer={self._peers.get(conn)} target={target} stream={bridge.stream_id}')
        bridge.start_pumping()
        conn.flush()

    def _on_tunnel_done(self, bridge: StreamBridge, error: str | None) -> None:
        target = self._targets.pop(bridge, None)
        if error == 'target unreachable':
            return
        log(
            f'tunnel closed peer={self._peers.get(bridge.conn)} target={target} '
            f'bytes_from_client={bridge.bytes_to_plain} bytes_to_client={bridge.bytes_from_plain} '
            f'error={error}'
        )


class Listener:
    def __init__(self, loop: Loop, sock: socket.socket, context: ssl.SSLContext, role: HboneServerRole) -> None:
        self.sock = sock
        self._loop = loop
        self._context = context
        self._role = role
        loop.add(self)

    def interest(self) -> int:
        return selectors.EVENT_READ

    def on_ready(self, mask: int) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except BlockingIOError:
                return
            TlsConnection(self._loop, client, self._context, server_side=True, owner=self._role).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--listen', required=True, help='ip:port to listen on (port 0 = any free port)')
    meshtls.add_cert_flags(parser)
    args = parser.parse_args()
    address = meshtls.parse_ip_port(args.listen, allow_any_port=True)
    if address is None:
        parser.error(f'--listen {args.listen!r} is not ip:port')
    family, host, port = address
    context = meshtls.server_context(args)

    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(128)
    server.setblocking(False)
    loop = Loop()
    Listener(loop, server, context, HboneServerRole())
    print(f'listening {meshtls.format_ip_port(server.getsockname())}', flush=True)
    while True:
        loop.run_once()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
