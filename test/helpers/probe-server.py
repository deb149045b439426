#!/usr/bin/env python3
"""Test stand-in for a proxy or an app inside a network namespace.

Listens on the given TCP/UDP addresses and answers every connection (or datagram) with one JSON
line: which listener took it, the socket's local address (under TPROXY: the original
destination), the peer, and the original destination from conntrack (SO_ORIGINAL_DST). Prints
READY once listening; exits on SIGTERM or after --max-seconds. Standard library only.
"""
import argparse, json, os, select, signal, socket, struct, sys, time

SO_ORIGINAL_DST = 80
IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75


def fmt(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def original_dst(sock, family):
    try:
        if family == socket.AF_INET:
            raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            port, = struct.unpack("!H", raw[2:4])
            return f"{socket.inet_ntop(socket.AF_INET, raw[4:8])}:{port}"
        raw = sock.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        port, = struct.unpack("!H", raw[2:4])
        return f"[{socket.inet_ntop(socket.AF_INET6, raw[8:24])}]:{port}"
    except OSError:
        return None


def make(kind, spec, transparent):
    host, port = spec.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if transparent:
        if family == socket.AF_INET:
            sock.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    sock.bind((host, int(port)))
    if kind == "tcp":
        sock.listen(64)
    return sock, family, kind


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--tcp", action="append", default=[])
    parser.add_argument("--udp", action="append", default=[])
    parser.add_argument("--transparent", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sockets = [make("tcp", s, args.transparent) for s in args.tcp] + [make("udp", s, args.transparent) for s in args.udp]
    by_fd = {s.fileno(): (s, fam, kind) for s, fam, kind in sockets}
    print("READY", flush=True)
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(by_fd), [], [], 0.5)
        for fd in ready:
            sock, family, kind = by_fd[fd]
            if kind == "tcp":
                conn, peer = sock.accept()
                reply = {"listener": args.name, "local": fmt(conn.getsockname()), "peer": fmt(peer),
                         "original_dst": original_dst(conn, family), "uid": os.getuid()}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                finally:
                    conn.close()
            else:
                data, peer = sock.recvfrom(2048)
                reply = {"listener": args.name, "local": fmt(sock.getsockname()), "peer": fmt(peer), "original_dst": None,
                         "uid": os.getuid(), "echo": data.decode(errors="replace")}
                sock.sendto((json.dumps(reply) + "\n").encode(), peer)


if __name__ == "__main__":
    main()
