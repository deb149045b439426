#!/usr/bin/env python3
"""Stand-in for Envoy in outrigger's images, end-to-end test and demo (Envoy cannot be pulled here).

`proxy` (the default) listens on 15001 (outbound) and 15006 (inbound) like Envoy's virtual listeners.
For every captured connection it reads the original destination (SO_ORIGINAL_DST), sends the client
one JSON header line saying so ({"via": "stand-in-proxy", "listener", "original_dst", "uid"}), then
relays bytes both ways to the original destination (inbound from 127.0.0.6, like Envoy's
InboundPassthroughCluster). It answers GET /healthz/ready on 15021 with 200. Installed as `envoy`
too: Envoy's flags (the injected `--config-yaml ...`) are accepted and ignored. The proxy's own upstream connections are made by this process (uid
1337), so capture must let them go direct; a loop would show up as a second header. Each connection is
also logged as one JSON line on stdout.

`serve --name N --port P` is a tiny app: it answers every connection with one JSON line naming itself
and the peer. `connect HOST PORT` connects, reads every line until EOF and prints them as one JSON
object with the client's uid. Limits: TCP over IPv4 and IPv6 only; every socket has a timeout; a
connection is relayed for at most --max-seconds. Standard library only.
"""
import argparse, json, os, signal, socket, struct, sys, threading, time

SO_ORIGINAL_DST = 80


def original_dst(conn):
    try:
        if conn.family == socket.AF_INET:
            raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            return socket.inet_ntop(socket.AF_INET, raw[4:8]), struct.unpack("!H", raw[2:4])[0]
        raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), struct.unpack("!H", raw[2:4])[0]
    except OSError:
        return None


def fmt(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_ipv6(entries):
    """Adds IPv6-only listeners beside the IPv4 ones when this network namespace has IPv6."""
    if not (socket.has_ipv6 and os.path.exists("/proc/net/if_inet6")):
        return []
    try:
        return [(listen(port, socket.AF_INET6), name) for port, name in entries]
    except OSError:
        return []


def listen(port, family=socket.AF_INET):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    sock.listen(128)
    return sock


def pump(src, dst, deadline):
    try:
        while time.monotonic() < deadline:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(conn, peer, listener, max_seconds):
    conn.settimeout(max_seconds)
    dst = original_dst(conn)
    record = {"via": "stand-in-proxy", "listener": listener, "peer": fmt(peer[0], peer[1]),
              "original_dst": fmt(*dst) if dst else None, "uid": os.getuid()}
    upstream = None
    try:
        if dst is None:
            record["error"] = "no original destination (not redirected)"
        else:
            # Like Envoy's passthrough clusters: outbound to the original destination; inbound to
            # it as well, from 127.0.0.6, which capture never re-captures.
            source = None if listener == "outbound" else ("127.0.0.6" if conn.family == socket.AF_INET else "::6", 0)
            record["upstream"] = fmt(*dst)
            try:
                upstream = socket.create_connection(dst, timeout=3, source_address=source)
            except OSError as err:
                record["error"] = f"upstream {fmt(*target)}: {err.strerror or err}"
        print(json.dumps(record), flush=True)
        conn.sendall((json.dumps(record) + "\n").encode())
        if upstream is not None:
            deadline = time.monotonic() + max_seconds
            upstream.settimeout(max_seconds)
            back = threading.Thread(target=pump, args=(upstream, conn, deadline), daemon=True)
            back.start()
            pump(conn, upstream, deadline)
            back.join(max_seconds)
    except OSError:
        pass
    finally:
        conn.close()
        if upstream is not None:
            upstream.close()


def serve_forever(sockets, on_accept):
    def loop(sock, name):
        while True:
            conn, peer = sock.accept()
            threading.Thread(target=on_accept, args=(conn, peer, name), daemon=True).start()
    threads = [threading.Thread(target=loop, args=(s, n), daemon=True) for s, n in sockets]
    for t in threads:
        t.start()
    print(json.dumps({"ready": [n for _, n in sockets], "uid": os.getuid()}), flush=True)
    for t in threads:
        t.join()


def health(conn, _peer, _name):
    try:
        conn.settimeout(3)
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def cmd_proxy(args):
    sockets = [(listen(args.outbound_port), "outbound"), (listen(args.inbound_port), "inbound"), (listen(args.health_port), "health")]
    sockets += listen_ipv6([(args.outbound_port, "outbound"), (args.inbound_port, "inbound"), (args.health_port, "health")])
    serve_forever(sockets, lambda c, p, n: health(c, p, n) if n == "health" else handle(c, p, n, args.max_seconds))


def cmd_serve(args):
    def answer(conn, peer, _name):
        try:
            reply = {"app": args.name, "local": fmt(*conn.getsockname()[:2]), "peer": fmt(peer[0], peer[1]), "uid": os.getuid()}
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError:
            pass
        finally:
            conn.close()
    serve_forever([(listen(args.port), args.name)] + listen_ipv6([(args.port, args.name)]), answer)


def cmd_connect(args):
    out = {"client_uid": os.getuid(), "target": fmt(args.host, args.port), "lines": []}
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
            sock.settimeout(args.timeout)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            out["lines"] = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        out["error"] = str(err)
    print(json.dumps(out), flush=True)
    return 0 if "error" not in out else 1


def main():
    # PID 1 in a container gets no default SIGTERM action: stop promptly when the pod stops.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    parser = argparse.ArgumentParser(prog="stand-in-proxy")
    sub = parser.add_subparsers(dest="command")
    proxy = sub.add_parser("proxy")
    proxy.add_argument("--outbound-port", type=int, default=15001)
    proxy.add_argument("--inbound-port", type=int, default=15006)
    proxy.add_argument("--health-port", type=int, default=15021)
    proxy.add_argument("--max-seconds", type=float, default=30)
    serve = sub.add_parser("serve")
    serve.add_argument("--name", required=True)
    serve.add_argument("--port", type=int, required=True)
    connect = sub.add_parser("connect")
    connect.add_argument("host")
    connect.add_argument("port", type=int)
    connect.add_argument("--timeout", type=float, default=3)
    argv = sys.argv[1:]
    if os.path.basename(sys.argv[0]) == "envoy" or not argv or argv[0] not in ("proxy", "serve", "connect"):
        # Run as `envoy ...` by an injected pod: Envoy's flags mean nothing to the stand-in.
        print(json.dumps({"ignored_args": [a if len(a) < 80 else a[:77] + "..." for a in argv]}), flush=True)
        argv = ["proxy"]
    args = parser.parse_args(argv)
    if args.command == "proxy":
        cmd_proxy(args)
    elif args.command == "serve":
        cmd_serve(args)
    else:
        sys.exit(cmd_connect(args))


if __name__ == "__main__":
    main()
