"""Refuse network access beyond loopback in every Python process of a graded notebook.

This is the fallback of `notebooks.sandbox` for machines without network namespaces. The sandbox copies this
file as `sitecustomize.py` into a folder on the kernel's PYTHONPATH, so Python runs it at start-up in the
kernel and in every Python subprocess the notebook starts (`!python train.py`, DataLoader workers). It must
therefore import nothing outside the standard library.

It stops Python-level sockets only: a C extension, ctypes or a non-Python program (`!curl`) gets through.
It keeps honest notebooks honest (no silent downloads during grading); it is not a security boundary.
Loopback stays open because the kernel talks to the notebook client over ZMQ on 127.0.0.1.
"""

from __future__ import annotations

import errno
import ipaddress
import socket

MESSAGE = "network disabled during grading"

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(host: object) -> bool:
    """True for loopback and wildcard (bind-to-all) names and addresses: nothing that needs the network."""
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host is None:
        return True  # getaddrinfo(None, port) means the local wildcard address
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _refuse(host: object) -> PermissionError:
    return PermissionError(errno.EACCES, f"{MESSAGE}: connection to {host!r} refused")


def _check_address(address: object) -> None:
    """Internet addresses are (host, port, ...) tuples; Unix socket paths (str or bytes) are local."""
    if isinstance(address, tuple) and address and not _is_local(address[0]):
        raise _refuse(address[0])


def install() -> None:
    """Patch socket connection and name resolution so that non-loopback targets raise PermissionError."""
    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    getaddrinfo, gethostbyname = socket.getaddrinfo, socket.gethostbyname
    gethostbyname_ex = socket.gethostbyname_ex

    def guarded_connect(self: socket.socket, address: object) -> None:
        _check_address(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        _check_address(address)
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: bytes, *args: object) -> int:
        _check_address(args[-1])  # sendto(data, address) or sendto(data, flags, address)
        return sendto(self, data, *args)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_FAIL, f"{MESSAGE}: name lookup of {host!r} refused")
        return getaddrinfo(host, *args, **kwargs)

    def guarded_gethostbyname(host: str) -> str:
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_FAIL, f"{MESSAGE}: name lookup of {host!r} refused")
        return gethostbyname(host)

    def guarded_gethostbyname_ex(host: str) -> tuple:
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_FAIL, f"{MESSAGE}: name lookup of {host!r} refused")
        return gethostbyname_ex(host)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.socket.sendto = guarded_sendto
    socket.getaddrinfo = guarded_getaddrinfo
    socket.gethostbyname = guarded_gethostbyname
    socket.gethostbyname_ex = guarded_gethostbyname_ex


if __name__ == "sitecustomize":  # only where the sandbox put this file; imported as a module it stays inert
    install()
