#!/usr/bin/python3
"""A TCP target for the interop checks (plain TCP, no TLS).

    tcp_echo.py --listen 127.0.0.1:0 [--after-eof | --greet TEXT]

Prints "listening <ip:port>" once ready. Every connection gets its bytes back,
then a FIN once the client's FIN has arrived: so a tunnel that loses a half-close
never sees its echo finish. With --after-eof nothing at all is sent before the
client's FIN, which proves that the client's half-close crossed the tunnel while
the way back stayed open. With --greet the target speaks and half-closes first,
then counts what still arrives and prints "received <n> bytes" on stdout: the
half-close in the other direction.
"""

import argparse
import functools
import socket
import sys
import threading
from typing import Callable

CHUNK_BYTES = 256 * 1024


def echo(conn: socket.socket, after_eof: bool) -> None:
    held = bytearray()
    with conn:
        while True:
            data = conn.recv(CHUNK_BYTES)
            if not data:
                break
            if after_eof:
                held += data
            else:
                conn.sendall(data)
        conn.sendall(held)
        conn.shutdown(socket.SHUT_WR)


def greet(conn: socket.socket, text: str) -> None:
    received = 0
    with conn:
        conn.sendall(text.encode() + b'\n')
        conn.shutdown(socket.SHUT_WR)
        while data := conn.recv(CHUNK_BYTES):
            received += len(data)
    print(f'received {received} bytes', flush=True)


def quietly(job: Callable[[], None]) -> None:
    """A peer that vanishes mid-echo is routine in these checks, not a crash."""
    try:
        job()
    except OSError as error:
        print(f'tcp_echo: connection ended: {error}', file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--listen', required=True, help='ip:port (port 0 = any free port)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--after-eof', action='store_true', help='echo only after the client half-closes')
    mode.add_argument('--greet', metavar='TEXT', help='send TEXT and half-close first, then count input')
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(':')
    host = host.strip('[]')
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(128)
    bound_host, bound_port = server.getsockname()[:2]
    shown = f'[{bound_host}]' if family == socket.AF_INET6 else bound_host
    print(f'listening {shown}:{bound_port}', flush=True)
    while True:
        conn, _ = server.accept()
        if args.greet is not None:
            job = functools.partial(greet, conn, args.greet)
        else:
            job = functools.partial(echo, conn, args.after_eof)
        threading.Thread(target=quietly, args=(job,), daemon=True).start()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
