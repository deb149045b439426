#!/usr/bin/env python3
"""Test client: one TCP connection (or one UDP datagram) to host:port with a time limit; prints
the JSON line the probe server answered, or {"error": "..."}; never retries."""
import json, socket, sys

def main():
    kind, host, port, timeout = sys.argv[1], sys.argv[2].strip("[]"), int(sys.argv[3]), float(sys.argv[4])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        if kind == "tcp":
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.settimeout(timeout)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        else:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(b"probe", (host, port))
                data, _ = s.recvfrom(4096)
        print(data.decode().strip() or json.dumps({"error": "empty reply"}))
    except (OSError, socket.timeout) as e:
        print(json.dumps({"error": type(e).__name__ + ": " + str(e)}))

main()
