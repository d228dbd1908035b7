# SPDX-License-Identifier: LGPL-2.1-or-later
"""A dbus-daemon of the benchmark's own (bench/start.py, bench/scale.py):
anyone may own names and call, as on a session bus."""
import os
import subprocess

CONFIG = """<busconfig><type>session</type><listen>unix:path={sock}</listen><auth>EXTERNAL</auth>{limit}
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/></policy></busconfig>"""


def start(work, max_message_size=None):
    """Starts the bus in work; returns (its socket path, its pid)."""
    sock = os.path.join(work, "bus.sock")
    limit = f'\n<limit name="max_message_size">{max_message_size}</limit>' if max_message_size else ""
    with open(os.path.join(work, "bus.conf"), "w") as f:
        f.write(CONFIG.format(sock=sock, limit=limit))
    out = subprocess.check_output(["dbus-daemon", "--config-file=" + os.path.join(work, "bus.conf"),
                                   "--fork", "--print-pid"], text=True)
    return sock, int(out.split()[0])
