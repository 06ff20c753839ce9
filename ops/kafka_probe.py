"""Minimal Kafka readiness probe (stdlib only, no client library needed).

Sends one Metadata request (v4: the oldest version Kafka 4.x still accepts and
one every 2.x/3.x broker also understands) and exits 0 if the broker answers
with at least one live broker. Used by ops/kafka.sh to decide "ready".

usage: python3 kafka_probe.py HOST PORT
"""

import socket
import struct
import sys


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


def _string(buf, off):
    (n,) = struct.unpack_from(">h", buf, off)
    off += 2
    if n < 0:
        return None, off
    return buf[off : off + n].decode(), off + n


def metadata(host, port, timeout=3.0):
    client_id = b"granary-ops-probe"
    body = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id  # api_key=Metadata, v4, corr=1
    body += struct.pack(">ib", -1, 0)  # topics=null (all), allow_auto_topic_creation=false
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _read_exact(s, 4))
        resp = _read_exact(s, size)
    corr, _throttle, nbrokers = struct.unpack_from(">iii", resp, 0)
    if corr != 1:
        raise ValueError("correlation id mismatch")
    off = 12
    brokers = []
    for _ in range(nbrokers):
        (node_id,) = struct.unpack_from(">i", resp, off)
        bhost, off = _string(resp, off + 4)
        (bport,) = struct.unpack_from(">i", resp, off)
        _rack, off = _string(resp, off + 4)
        brokers.append((node_id, bhost, bport))
    cluster_id, off = _string(resp, off)
    return brokers, cluster_id


if __name__ == "__main__":
    try:
        brokers, cluster_id = metadata(sys.argv[1], int(sys.argv[2]))
    except Exception as exc:  # any failure means "not ready yet"
        print(f"not ready: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"cluster {cluster_id} brokers {brokers}")
    sys.exit(0 if brokers else 1)
