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
        os.write(fd, os.environ["AGENT_PASSWORD"].encode() + b"\n")
        answered = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print(f"\n[agent asked for a password: {'yes' if answered else 'no'}]")
sys.exit(os.waitstatus_to_exitcode(status) if answered else 3)
