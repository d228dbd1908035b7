#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A desktop's authentication agent, scripted: runs COMMAND on a terminal of
# its own with pkttyagent registered for COMMAND's process (as systemctl
# does), answers pkttyagent's password prompt with $AGENT_PASSWORD, and
# exits with COMMAND's status.  The terminal's text goes to stdout.
#
# usage: agent.py COMMAND [ARG...]
import os
import pty
import subprocess
import sys
import termios
import time


def echo_off(fd):
    """Whether the terminal's echo is off (tcgetattr on the master reads the
    slave's modes on Linux)."""
    return not (termios.tcgetattr(fd)[3] & termios.ECHO)


pid, fd = pty.fork()
if pid == 0:
    r, w = os.pipe()
    subprocess.Popen(["pkttyagent", "--process", str(os.getpid()), "--notify-fd", str(w)], pass_fds=[w])
    os.close(w)
    os.read(r, 1)           # pkttyagent closes it once it is registered
    os.execvp(sys.argv[1], sys.argv[1:])

seen = b""
answered = False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not answered and b"Password:" in seen:
        # pkttyagent prints the prompt first and then turns echo off with
        # tcsetattr(TCSAFLUSH), which throws away input already typed: an
        # answer written as soon as the prompt shows can be lost, and then
        # pkttyagent waits for ever.  The kernel flushes before it sets the
        # new modes, so once echo is seen off, what is written stays.
        end = time.monotonic() + 60
        while not echo_off(fd) and time.monotonic() < end:
            time.sleep(0.05)
        os.write(fd, os.environ["AGENT_PASSWORD"].encode() + b"\n")
        answered = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print(f"\n[agent asked for a password: {'yes' if answered else 'no'}]")
sys.exit(os.waitstatus_to_exitcode(status) if answered else 3)
