#!/usr/bin/env python3
"""Bad clients against a job's coordinator (run by coordinator_abuse.sh).

    coordinator_abuse.py HOST PORT STATEDIR

Each quick case connects, misbehaves, and checks how the connection ends;
it prints "ok - ..." or "not ok - ..." (tests/lib.sh's format). Then it
opens IDLE connections that never speak and one client that sends a HELLO
one byte a second, writes STATEDIR/holding, and keeps them until
STATEDIR/release exists (or 30 s), then reports how many of them the
coordinator closed and when. Standard library only."""
import os
import resource
import socket
import sys
import time

HOST, PORT, STATE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
IDLE = 1000
LINE_MAX = 4096  # COORD_CLIENT_LINE_MAX


def report(ok, name, why=""):
    print(("ok - " if ok else "not ok - ") + name)
    if not ok and why:
        print("#   " + why)
    sys.stdout.flush()


def connect():
    s = socket.create_connection((HOST, PORT), timeout=5)
    return s


def answer_and_close(s, timeout=5.0):
    """Everything the coordinator sends until it closes: (bytes, closed)."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return got, True
            got += d
    except (ConnectionResetError, BrokenPipeError):
        return got, True
    except socket.timeout:
        return got, False


def case_error(name, payload, want):
    s = connect()
    s.sendall(payload)
    got, closed = answer_and_close(s)
    s.close()
    report(closed and want in got, name, "got %r, closed=%s" % (got[:200], closed))


case_error("wrong token: ERROR, connection closed",
           b"HELLO token=ffffffffffffffffffffffffffffffff proto=1 role=control\n", b"ERROR msg=wrong%20token")
case_error("no token: ERROR, connection closed", b"HELLO proto=1 role=control\n", b"ERROR msg=wrong%20token")
case_error("garbage bytes: connection closed, nothing answered",
           bytes(range(256)) * 4 + b"\x00\xff\n", b"")

# A "length prefix" of 1 GiB, then a line that never ends: the protocol
# is lines, so the coordinator must stop reading at LINE_MAX and close,
# long before the sender is done.
s = connect()
s.settimeout(10)
sent = 0
chunk = b"A" * 65536
try:
    s.sendall((1 << 30).to_bytes(4, "big") + b"HELLO token=")
    while sent < 64 << 20:
        s.sendall(chunk)
        sent += len(chunk)
    cut = False
except (ConnectionResetError, BrokenPipeError, socket.timeout):
    cut = True
s.close()
report(cut, "a 1 GiB length prefix and a line without end: cut off after %d KiB of 64 MiB" % (sent >> 10),
       "the coordinator took all 64 MiB without closing")

# --- what is held while the job checkpoints ----------------------------------
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = IDLE + 64
if soft < want:
    if hard != resource.RLIM_INFINITY and hard < want:
        print("skip - %d idle connections: this process may open only %d files (ulimit -Hn)" % (IDLE, hard))
        IDLE = max(0, hard - 64)
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
idle = []
for _ in range(IDLE):
    try:
        idle.append(socket.create_connection((HOST, PORT), timeout=5))
    except OSError as e:
        print("# connection %d: %s" % (len(idle) + 1, e))
        break
report(len(idle) == IDLE, "%d idle connections opened" % IDLE, "only %d" % len(idle))
slow = connect()
hello = b"HELLO token=00000000000000000000000000000000 proto=1 role=control\n"
slow_sent = 0
slow_closed_at = None
start = time.monotonic()
open(os.path.join(STATE, "holding"), "w").close()

def peer_closed(c):
    """Whether the coordinator has closed C (without waiting)."""
    c.setblocking(False)
    try:
        return c.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


# One byte a second to the slow client; watch which connections end.
closed_idle = set()
while time.monotonic() - start < 30 and not os.path.exists(os.path.join(STATE, "release")):
    if slow_closed_at is None and peer_closed(slow):
        slow_closed_at = time.monotonic() - start
    if slow_closed_at is None:
        try:
            slow.send(hello[slow_sent:slow_sent + 1])
            slow_sent += 1
        except OSError:
            slow_closed_at = time.monotonic() - start
    for i, c in enumerate(idle):
        if i not in closed_idle and peer_closed(c):
            closed_idle.add(i)
    time.sleep(1)
if slow_closed_at is None and peer_closed(slow):
    slow_closed_at = time.monotonic() - start
with open(os.path.join(STATE, "result"), "w") as f:
    f.write("idle_closed %d\nslow_sent %d\nslow_closed_at %s\n" %
            (len(closed_idle), slow_sent, "%.1f" % slow_closed_at if slow_closed_at is not None else "never"))
for c in idle:
    c.close()
slow.close()
