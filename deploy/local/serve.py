"""One gateway replica of several: uvicorn on the public socket the supervisor shares
between them, and on a port of its own.

`python -m deploy.local.serve services.gateway.main:create_app --port P --shared-fd FD`

The supervisor binds the public port once and every gateway replica inherits that one
listening socket (as gunicorn's workers do): the kernel hands each new connection to
whichever replica accepts first, and when one is killed the others go on accepting from
the same queue, so nothing already queued is lost. Its own port is how the supervisor
tells this replica is ready (the shared one may be answered by another replica) and how
an operator reaches this replica alone.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn

from deploy.local.servers import LOOPBACK


def _own_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="module:factory, e.g. services.gateway.main:create_app")
    parser.add_argument("--port", type=int, required=True, help="this replica's own port")
    parser.add_argument("--shared-fd", type=int, required=True, help="inherited listening socket")
    args = parser.parse_args(argv)
    shared = socket.socket(fileno=args.shared_fd)
    shared.setblocking(False)
    config = uvicorn.Config(
        args.app,
        factory=True,
        access_log=False,
        # Bounded, so a stop never hangs on a client holding a connection open.
        timeout_graceful_shutdown=5,
    )
    # run(), not asyncio.run(serve()): it sets up the event loop uvicorn's CLI would
    # (uvloop when installed).
    uvicorn.Server(config).run(sockets=[_own_socket(args.port), shared])


if __name__ == "__main__":
    main()
