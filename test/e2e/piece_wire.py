"""A test client's side of the piece protocol (include/dragonfly/piece/piece_protocol.h), and the
scheduler's grants (piece tokens) obtained the way any host gets them: by registering the task.
Used by tests that play a neighbour, honest or not."""

import os
import socket
import struct
import subprocess

from cluster import LOOPBACK

# Frame types of the piece protocol.
HELLO, BITFIELD, HAVE, REQUEST, PIECE, REJECT, ERROR = 1, 2, 3, 5, 7, 8, 9
# ERROR codes.
TASK_NOT_FOUND, BUSY, BAD_REQUEST, INTERNAL, UNAUTHORIZED = 1, 2, 3, 4, 5
VERSION = 4
TESTS_DIR = os.environ.get(
    "DF_TESTS_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/tests"))


def frame(kind, payload):
    return struct.pack("<IB", len(payload) + 1, kind) + payload


def hello(task_id, peer_id, token=b"", trace_parent=b""):
    t, p = task_id.encode(), peer_id.encode()
    return frame(HELLO, bytes([VERSION, len(t)]) + t + bytes([len(p)]) + p + b"\0" +
                 struct.pack("<H", len(token)) + token + bytes([len(trace_parent)]) + trace_parent)


def bitfield(content_length, piece_length, total_pieces, bitmap=b""):
    return frame(BITFIELD, struct.pack("<QIIBI", content_length % (1 << 64), piece_length,
                                       total_pieces, 0, len(bitmap)) + bitmap)


def read_frame(sock):
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf
    length, kind = struct.unpack("<IB", exactly(5))
    return kind, exactly(length - 1)


def decode_error(payload):
    """(code, message) of an ERROR frame's payload."""
    code, n = struct.unpack("<BH", payload[:3])
    return code, payload[3:3 + n].decode(errors="replace")


def connect(port, timeout=30):
    s = socket.socket(socket.AF_INET6 if ":" in LOOPBACK else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((LOOPBACK, port))
    return s


def rogue(*args):
    """Runs build/tests/rogue_peer; its output."""
    r = subprocess.run([os.path.join(TESTS_DIR, "rogue_peer"), *args], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"rogue_peer {args[:4]} failed: {r.stderr}")
    return r.stdout.strip()


def grants(scheduler_addr, task_id, url, peers, tls=None):
    """Registers each peer ID of `peers` for the task at the scheduler (as a host of its own,
    with the certificate in directory `tls` when the cluster has TLS); {peer ID: piece token}."""
    out = {}
    cert = ("--tls", tls) if tls else ()
    for line in rogue(*cert, "register", scheduler_addr, task_id, url, *peers).splitlines():
        words = line.split()
        if words[0] != "accepted" or len(words) != 4:
            raise AssertionError(f"registration refused: {line}")
        out[words[2]] = bytes.fromhex(words[3])
    return out
