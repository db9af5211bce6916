#!/usr/bin/python3
"""An HBONE client built on Python's ssl and the sans-IO h2 library.

    hbone_client.py --connect 127.0.0.x:15008 --authority ip:port \\
        [--expect-san spiffe://...] --cert cert-chain.pem --key key.pem --roots root-cert.pem

TLS 1.3 with our client certificate, ALPN h2, the server chain verified against
the roots and, with --expect-san, one of its URI SANs equal to that. Then one
HTTP/2 CONNECT stream: stdin is copied into it and it is copied to stdout; at
stdin's EOF the client half-closes (END_STREAM) and keeps reading until the
server ends its side. Prints "status <code>" on stderr.

Exit codes: 0 = status 200 and both directions ended cleanly; 1 = bad usage or
files; 2 = TCP/TLS/ALPN/identity failure or no response; 3 = a status other
than 200; 4 = the stream broke after 200 (reset, connection lost).

Run it with Debian's /usr/bin/python3, which is where python3-h2 lives.
"""

import argparse
import os
import secrets
import socket
import sys
import threading

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import h2.events  # noqa: E402

import meshtls  # noqa: E402
from tunnel import Loop, StreamBridge, TlsConnection, new_h2  # noqa: E402

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_CONNECT = 2
EXIT_STATUS = 3
EXIT_STREAM = 4

STDIO_CHUNK_BYTES = 256 * 1024


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pump_stdin(local: socket.socket) -> None:
    """stdin -> the loop's side of the socket pair; EOF becomes a FIN, which the
    bridge turns into END_STREAM. A thread, because stdin may be a regular file,
    which a selector cannot watch."""
    try:
        while chunk := os.read(0, STDIO_CHUNK_BYTES):
            local.sendall(chunk)
        local.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the tunnel is gone; main reports why


def pump_stdout(local: socket.socket, failed: threading.Event) -> None:
    """The loop's side of the socket pair -> stdout, until the tunnel's FIN."""
    out = sys.stdout.buffer
    try:
        while chunk := local.recv(STDIO_CHUNK_BYTES):
            out.write(chunk)
        out.flush()
    except OSError:
        failed.set()
        # Stop taking data nobody can write: the bridge's next send fails and
        # resets the stream instead of stalling on a full socket buffer.
        local.shutdown(socket.SHUT_RDWR)


class HboneClientRole:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.exit_code: int | None = None
        self.stream_id = 0
        self.bridge: StreamBridge | None = None
        self.stdout_thread: threading.Thread | None = None
        self.stdout_failed = threading.Event()

    def _fail(self, code: int, message: str) -> None:
        if self.exit_code is None:
            say(f'hbone-client: {message}')
            self.exit_code = code

    def on_tls_ready(self, conn: TlsConnection) -> None:
        alpn = conn.tls.selected_alpn_protocol()
        if alpn != 'h2':
            self._fail(EXIT_CONNECT, f'server negotiated ALPN {alpn!r}, want h2')
            return
        sans = meshtls.spiffe_ids(conn.tls.getpeercert())
        if self.args.expect_san and self.args.expect_san not in sans:
            self._fail(EXIT_CONNECT, f'server certificate has URI SANs {sans}, want {self.args.expect_san}')
            return
        h2conn = new_h2(client_side=True)
        self.stream_id = h2conn.get_next_available_stream_id()
        h2conn.send_headers(self.stream_id, self._request_headers(conn), end_stream=self.args.method != 'CONNECT')
        conn.attach_h2(h2conn)

    def _request_headers(self, conn: TlsConnection) -> list[tuple[str, str]]:
        headers = [(':method', self.args.method), (':authority', self.args.authority)]
        if self.args.method != 'CONNECT':
            headers += [(':scheme', 'https'), (':path', '/')]
        # Same shape as a real ztunnel's request; baggage can be added with --header.
        headers += [
            ('traceparent', f'00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00'),
            ('forwarded', f'for="{meshtls.format_ip_port(conn.sock.getsockname())}"'),
        ]
        for header in self.args.header:
            name, _, value = header.partition(':')
            headers.append((name.strip().lower(), value.strip()))
        return headers

    def on_h2_events(self, conn: TlsConnection, events: list) -> None:
        conn.dispatch_events(events, lambda event: self._on_event(conn, event))

    def _on_event(self, conn: TlsConnection, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived) and event.stream_id == self.stream_id:
            self._on_response(conn, dict(event.headers))
        elif isinstance(event, h2.events.StreamReset) and event.stream_id == self.stream_id:
            self._fail(EXIT_CONNECT, f'stream reset before any response (error code {event.error_code})')
        elif isinstance(event, h2.events.ConnectionTerminated) and self.bridge is None:
            self._fail(EXIT_CONNECT, f'GOAWAY before any response (error code {event.error_code})')

    def _on_response(self, conn: TlsConnection, headers: dict[str, str]) -> None:
        status = headers.get(':status', '?')
        say(f'status {status}')
        if status != '200':
            self._fail(EXIT_STATUS, f'server answered {status}')
            return
        if self.args.method != 'CONNECT':
            self.exit_code = EXIT_OK
            return
        # The bridge sees stdin/stdout as one plain socket, the same as the
        # server's target connection.
        loop_side, stdio_side = socket.socketpair()
        threading.Thread(target=pump_stdin, args=(stdio_side,), daemon=True).start()
        self.stdout_thread = threading.Thread(target=pump_stdout, args=(stdio_side, self.stdout_failed))
        self.stdout_thread.start()
        self.bridge = StreamBridge(conn, self.stream_id, loop_side, on_done=self._on_tunnel_done)
        self.bridge.start_pumping()

    def _on_tunnel_done(self, bridge: StreamBridge, error: str | None) -> None:
        if error is None:
            if self.exit_code is None:
                self.exit_code = EXIT_OK
        else:
            self._fail(EXIT_STREAM, error)

    def on_lost(self, conn: TlsConnection, reason: str) -> None:
        self._fail(EXIT_CONNECT if self.bridge is None else EXIT_STREAM, reason)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--connect', required=True, help='ip:port of the HBONE server')
    parser.add_argument('--authority', required=True, help=':authority of the CONNECT, the tunnel target ip:port')
    parser.add_argument('--expect-san', help='require this URI SAN on the server certificate')
    parser.add_argument('--method', default='CONNECT', help='anything but CONNECT is for negative tests')
    parser.add_argument('--header', action='append', default=[], help="extra header 'name: value' (repeatable)")
    meshtls.add_cert_flags(parser)
    args = parser.parse_args()
    server = meshtls.parse_ip_port(args.connect)
    if server is None:
        parser.error(f'--connect {args.connect!r} is not ip:port')
    try:
        context = meshtls.client_context(args)
    except (OSError, ValueError) as error:
        say(f'hbone-client: loading certificates: {error}')
        return EXIT_USAGE

    _, host, port = server
    try:
        sock = socket.create_connection((host, port), timeout=meshtls.CONNECT_TIMEOUT_S)
    except OSError as error:
        say(f'hbone-client: connect {args.connect}: {error}')
        return EXIT_CONNECT
    loop = Loop()
    role = HboneClientRole(args)
    conn = TlsConnection(loop, sock, context, server_side=False, owner=role)
    conn.start()
    while role.exit_code is None:
        loop.run_once()
    conn.close_gracefully()
    if role.stdout_thread is not None:
        role.stdout_thread.join()
    if role.stdout_failed.is_set() and role.exit_code == EXIT_OK:
        say('hbone-client: writing stdout failed')
        return EXIT_STREAM
    return role.exit_code


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(EXIT_USAGE)
