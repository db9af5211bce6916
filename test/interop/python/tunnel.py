"""Single-threaded, non-blocking plumbing shared by the Python HBONE peers.

TLS runs over memory BIOs (ssl.SSLObject) so that one selector loop owns every
socket and the sans-IO h2 state machine is only ever touched from one thread.
A StreamBridge joins one HTTP/2 stream to one plain TCP socket, with HTTP/2 flow
control as the back-pressure in one direction and the socket buffers in the
other, and carries half-closes across: END_STREAM <-> FIN.
"""

import errno
import selectors
import socket
import ssl
from typing import Callable, Protocol

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

READ_CHUNK_BYTES = 256 * 1024
# Stop reading a plain socket while this much is already waiting to go out.
HIGH_WATER_BYTES = 1024 * 1024
# ztunnel's HTTP/2 numbers: 4 MiB stream window, 16 MiB connection window, 1 MiB frames.
STREAM_WINDOW_BYTES = 4 * 1024 * 1024
CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024
MAX_FRAME_BYTES = 1024 * 1024
DEFAULT_WINDOW_BYTES = 65535


def new_h2(client_side: bool) -> h2.connection.H2Connection:
    """An h2 state machine with ztunnel-like windows. h2 4.1 insists on :scheme
    and :path even for CONNECT (RFC 9113 §8.5 forbids them there), so the side
    that must accept or produce a CONNECT turns that check off and validates
    the request itself."""
    config = h2.config.H2Configuration(
        client_side=client_side,
        header_encoding='utf-8',
        validate_outbound_headers=not client_side,
        validate_inbound_headers=client_side,
    )
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    settings = {
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW_BYTES,
        h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_FRAME_BYTES,
    }
    if client_side:
        settings[h2.settings.SettingCodes.ENABLE_PUSH] = 0
    else:
        settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 200
    conn.update_settings(settings)
    conn.increment_flow_control_window(CONNECTION_WINDOW_BYTES - DEFAULT_WINDOW_BYTES)
    return conn


class Endpoint(Protocol):
    sock: socket.socket

    def interest(self) -> int: ...

    def on_ready(self, mask: int) -> None: ...


class Loop:
    """A selector loop that asks every endpoint what it waits for before each
    round, so no handler has to remember to re-register itself."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._registered: dict[Endpoint, int] = {}

    def add(self, endpoint: Endpoint) -> None:
        self._registered[endpoint] = 0

    def remove(self, endpoint: Endpoint) -> None:
        """Must run before the endpoint's socket closes: a reused fd number
        would otherwise collide with the stale registration."""
        if self._registered.pop(endpoint, 0):
            self._selector.unregister(endpoint.sock)

    def run_once(self, timeout: float | None = None) -> None:
        for endpoint, current in list(self._registered.items()):
            wanted = endpoint.interest()
            if wanted == current:
                continue
            if current == 0:
                self._selector.register(endpoint.sock, wanted, endpoint)
            elif wanted == 0:
                self._selector.unregister(endpoint.sock)
            else:
                self._selector.modify(endpoint.sock, wanted, endpoint)
            self._registered[endpoint] = wanted
        for key, mask in self._selector.select(timeout):
            if key.data in self._registered:
                key.data.on_ready(mask)


class ConnectionOwner(Protocol):
    """The role (client or server) driving a TlsConnection."""

    def on_tls_ready(self, conn: 'TlsConnection') -> None: ...

    def on_h2_events(self, conn: 'TlsConnection', events: list) -> None: ...

    def on_lost(self, conn: 'TlsConnection', reason: str) -> None: ...


class TlsConnection:
    """One TCP connection carrying TLS, and after the handshake HTTP/2."""

    def __init__(
        self, loop: Loop, sock: socket.socket, context: ssl.SSLContext, server_side: bool, owner: ConnectionOwner
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.loop = loop
        self.owner = owner
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        self.out_raw = bytearray()
        self.h2: h2.connection.H2Connection | None = None
        self.bridges: dict[int, StreamBridge] = {}
        self.handshaking = True
        self.closed = False
        loop.add(self)

    def start(self) -> None:
        """Sends the ClientHello (client) or waits for one (server)."""
        self._handshake()

    def interest(self) -> int:
        if self.closed:
            return 0
        return selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out_raw else 0)

    def on_ready(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._send_raw()
        if mask & selectors.EVENT_READ and not self.closed:
            self._receive()

    def attach_h2(self, conn: h2.connection.H2Connection) -> None:
        self.h2 = conn
        self.flush()

    def flush(self) -> None:
        """Moves whatever h2 wants to send through TLS onto the socket."""
        if self.closed:
            return
        if self.h2 is not None:
            data = memoryview(self.h2.data_to_send())
            while data:
                data = data[self.tls.write(data) :]
        self.out_raw += self._outgoing.read()
        self._send_raw()

    def close(self, reason: str) -> None:
        """Drops the connection at once; the owner hears about it via on_lost."""
        if self.closed:
            return
        self.closed = True
        self.loop.remove(self)
        self.sock.close()
        for bridge in list(self.bridges.values()):
            bridge.abort(f'connection closed: {reason}', reset=False)
        self.owner.on_lost(self, reason)

    def close_gracefully(self) -> None:
        """GOAWAY, then a best-effort blocking send of what is queued."""
        if self.closed:
            return
        if self.h2 is not None:
            self.h2.close_connection()
        self.flush()
        try:
            self.sock.setblocking(True)
            self.sock.sendall(self.out_raw)
        except OSError:
            pass
        self.out_raw.clear()
        self.close('closed by us')

    def _handshake(self) -> None:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return
        except (ssl.SSLError, OSError) as error:
            # Let the alert reach the peer before hanging up.
            self.flush()
            self.close(f'TLS handshake failed: {error}')
            return
        self.handshaking = False
        self.flush()
        self.owner.on_tls_ready(self)

    def _send_raw(self) -> None:
        while self.out_raw and not self.closed:
            try:
                sent = self.sock.send(self.out_raw)
            except BlockingIOError:
                return
            except OSError as error:
                self.close(f'write failed: {error}')
                return
            del self.out_raw[:sent]

    def _receive(self) -> None:
        try:
            data = self.sock.recv(READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError as error:
            self.close(f'read failed: {error}')
            return
        if not data:
            self.close('peer closed the TCP connection')
            return
        self._incoming.write(data)
        if self.handshaking:
            self._handshake()
            if self.handshaking or self.closed:
                return
        self._read_plaintext()
        self.flush()

    def _read_plaintext(self) -> None:
        while not self.closed:
            try:
                chunk = self.tls.read(READ_CHUNK_BYTES)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                self.close('peer sent TLS close_notify')
                return
            except ssl.SSLError as error:
                self.flush()
                self.close(f'TLS error: {error}')
                return
            if not chunk:
                return
            if self.h2 is None:
                self.close('application data before HTTP/2 was set up')
                return
            try:
                events = self.h2.receive_data(chunk)
            except h2.exceptions.ProtocolError as error:
                self.flush()  # h2 queued a GOAWAY explaining why
                self.close(f'HTTP/2 protocol error: {error}')
                return
            self.owner.on_h2_events(self, events)

    def dispatch_events(self, events: list, handle_other: Callable[[h2.events.Event], None]) -> None:
        """Hands stream data, ends, resets and window updates to the bridges and
        everything else to handle_other, strictly in order: the DATA that
        follows a request or response in the same read must reach the bridge
        that handling creates."""
        assert self.h2 is not None
        for event in events:
            bridge = self.bridges.get(getattr(event, 'stream_id', 0) or 0)
            if isinstance(event, h2.events.DataReceived):
                if bridge is not None:
                    bridge.on_data(event.data, event.flow_controlled_length)
                else:
                    # Nobody to deliver to; keep the connection window open.
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and bridge is not None:
                bridge.on_remote_end()
            elif isinstance(event, h2.events.StreamReset) and bridge is not None:
                bridge.abort(f'stream reset by peer (error code {event.error_code})', reset=False)
            elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                targets = [bridge] if bridge is not None else list(self.bridges.values())
                for target in targets:
                    target.push_to_h2()
            else:
                handle_other(event)


class StreamBridge:
    """One HTTP/2 stream joined to one plain TCP socket (the tunnel's target,
    or the client's stdin/stdout side)."""

    def __init__(
        self,
        conn: TlsConnection,
        stream_id: int,
        sock: socket.socket,
        on_done: Callable[['StreamBridge', str | None], None],
        connecting: bool = False,
        on_connected: Callable[['StreamBridge', int], None] | None = None,
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.conn = conn
        self.stream_id = stream_id
        self._on_done = on_done
        self._on_connected = on_connected
        self.connecting = connecting
        # Reading the plain side starts once the tunnel is up (200 sent or received).
        self.pumping = False
        self.to_plain = bytearray()
        self._unacked_bytes = 0
        self.from_plain = bytearray()
        self.plain_eof = False
        self.sent_end_stream = False
        self.remote_ended = False
        self.plain_shut = False
        self.finished = False
        self.bytes_to_plain = 0
        self.bytes_from_plain = 0
        conn.bridges[stream_id] = self
        conn.loop.add(self)

    # --- selector side -------------------------------------------------

    def interest(self) -> int:
        if self.finished:
            return 0
        if self.connecting:
            return selectors.EVENT_WRITE
        mask = selectors.EVENT_WRITE if self.to_plain else 0
        backlog = len(self.from_plain) + len(self.conn.out_raw)
        if self.pumping and not self.plain_eof and backlog < HIGH_WATER_BYTES:
            mask |= selectors.EVENT_READ
        return mask

    def on_ready(self, mask: int) -> None:
        if self.connecting:
            self._finish_connect()
        else:
            if mask & selectors.EVENT_WRITE:
                self.write_to_plain()
            if mask & selectors.EVENT_READ and not self.finished:
                self._read_plain()
        self.conn.flush()

    def start_pumping(self) -> None:
        self.pumping = True
        self.write_to_plain()

    def _finish_connect(self) -> None:
        error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error == errno.EINPROGRESS:
            return
        self.connecting = False
        if self._on_connected is not None:
            self._on_connected(self, error)

    def _read_plain(self) -> None:
        try:
            data = self.sock.recv(READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError as error:
            self.abort(f'plain side read failed: {error}', reset=True)
            return
        if data:
            self.from_plain += data
            self.bytes_from_plain += len(data)
        else:
            self.plain_eof = True
        self.push_to_h2()

    # --- HTTP/2 side ---------------------------------------------------

    def push_to_h2(self) -> None:
        """Sends what flow control allows; END_STREAM once the plain side hit EOF."""
        h2conn = self.conn.h2
        if self.finished or self.sent_end_stream or not self.pumping or h2conn is None:
            return
        try:
            while self.from_plain:
                size = min(
                    len(self.from_plain),
                    h2conn.local_flow_control_window(self.stream_id),
                    h2conn.max_outbound_frame_size,
                )
                if size <= 0:
                    break
                h2conn.send_data(self.stream_id, bytes(self.from_plain[:size]))
                del self.from_plain[:size]
            if self.plain_eof and not self.from_plain:
                h2conn.end_stream(self.stream_id)
                self.sent_end_stream = True
        except h2.exceptions.StreamClosedError:
            self.abort('stream closed while sending', reset=False)
            return
        self._check_done()

    def on_data(self, data: bytes, flow_controlled_bytes: int) -> None:
        self.to_plain += data
        self._unacked_bytes += flow_controlled_bytes
        self.write_to_plain()

    def on_remote_end(self) -> None:
        self.remote_ended = True
        self.write_to_plain()

    def write_to_plain(self) -> None:
        """Writes received bytes out; only what left lets the peer send more."""
        if self.finished or self.connecting:
            return
        written = 0
        while self.to_plain:
            try:
                sent = self.sock.send(self.to_plain)
            except BlockingIOError:
                break
            except OSError as error:
                self.abort(f'plain side write failed: {error}', reset=True)
                return
            del self.to_plain[:sent]
            written += sent
        self.bytes_to_plain += written
        # Padding counts against the window too; release it with the last byte.
        acked = self._unacked_bytes if not self.to_plain else min(written, self._unacked_bytes)
        if acked and self.conn.h2 is not None:
            self._unacked_bytes -= acked
            self.conn.h2.acknowledge_received_data(acked, self.stream_id)
        if self.remote_ended and not self.to_plain and not self.plain_shut:
            self.plain_shut = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the plain side is gone already; reading it will say so
        self._check_done()

    # --- ending --------------------------------------------------------

    def _check_done(self) -> None:
        if not self.finished and self.sent_end_stream and self.plain_shut:
            self._finish(None)

    def abort(self, reason: str, reset: bool) -> None:
        """Ends the tunnel abnormally; with reset, tells the peer with RST_STREAM."""
        if self.finished:
            return
        if reset and self.conn.h2 is not None:
            try:
                self.conn.h2.reset_stream(self.stream_id, h2.errors.ErrorCodes.CANCEL)
            except h2.exceptions.StreamClosedError:
                pass
        self._finish(reason)

    def _finish(self, error: str | None) -> None:
        self.finished = True
        self.conn.loop.remove(self)
        self.sock.close()
        self.conn.bridges.pop(self.stream_id, None)
        self._on_done(self, error)
