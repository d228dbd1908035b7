# SPDX-License-Identifier: LGPL-2.1-or-later
"""The app as assistive technology sees it: its accessible tree over AT-SPI
(gi.repository.Atspi), found by role and name, clicked through the Action
interface, typed into through EditableText, read through Text and Value.

GTK 4.8 reports no SHOWING state and keeps hidden stack pages in the tree:
the app gives what matters names of its own (a VM's row is named after the
VM, its buttons "Start NAME"), and status pages are emptied when hidden."""
import os
import subprocess
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

_initialized = False


def init():
    global _initialized
    if not _initialized:
        Atspi.init()
        _initialized = True


def walk(node, depth=0, max_depth=60):
    """Every accessible below node (node first), depth first."""
    yield node
    if depth >= max_depth:
        return
    try:
        n = node.get_child_count()
    except gi.repository.GLib.Error:
        return
    for i in range(n):
        try:
            child = node.get_child_at_index(i)
        except gi.repository.GLib.Error:
            continue
        if child is not None:
            yield from walk(child, depth + 1, max_depth)


def name(node):
    try:
        return node.get_name() or ""
    except gi.repository.GLib.Error:
        return ""


def role(node):
    try:
        return node.get_role_name()
    except gi.repository.GLib.Error:
        return ""


def text(node):
    if "Text" not in node.get_interfaces():
        return name(node)
    return Atspi.Text.get_text(node, 0, Atspi.Text.get_character_count(node))


def value(node):
    return Atspi.Value.get_current_value(node)


def wait(fn, timeout=30.0, what="the condition"):
    """Poll fn (an AT-SPI query) until it returns something true."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            got = fn()
            if got:
                return got
        except gi.repository.GLib.Error as e:    # the tree changed under the query
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f" ({last_error})" if last_error else ""))
        time.sleep(0.15)


class App:
    """edgevirt-desktop run as a user, and its accessible application."""

    def __init__(self, argv, env, log_path):
        init()
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.node = wait(self._find, 30, "the app on the accessibility bus")

    def _find(self):
        if self.proc.poll() is not None:
            raise AssertionError("edgevirt-desktop exited: " + open(self.log_path).read())
        desktop = Atspi.get_desktop(0)
        for i in range(desktop.get_child_count()):
            a = desktop.get_child_at_index(i)
            if a is not None and a.get_process_id() == self.proc.pid and a.get_child_count() > 0:
                a.set_cache_mask(Atspi.Cache.NONE)
                return a
        return None

    def windows(self):
        return [self.node.get_child_at_index(i) for i in range(self.node.get_child_count())]

    def window(self, title):
        """The top-level window (frame or dialog) titled so."""
        for w in self.windows():
            if w is not None and name(w) == title:
                return w
        return None

    def all(self, role_name=None, name_is=None, name_has=None, root=None):
        out = []
        for r in [root] if root is not None else self.windows():
            if r is None:
                continue
            for n in walk(r):
                if role_name and role(n) != role_name:
                    continue
                nm = name(n)
                if name_is is not None and nm != name_is:
                    continue
                if name_has is not None and name_has not in nm:
                    continue
                out.append(n)
        return out

    def one(self, role_name=None, name_is=None, name_has=None, root=None):
        found = self.all(role_name, name_is, name_has, root)
        return found[0] if found else None

    def wait_one(self, role_name=None, name_is=None, name_has=None, root=None, timeout=30.0):
        return wait(lambda: self.one(role_name, name_is, name_has, root), timeout,
                    f"{role_name or 'an object'} named {name_is or name_has!r}")

    def dump(self):
        """The tree as text (roles and names), for a failure's report."""
        lines = []
        for w in self.windows():
            for n in walk(w):
                if name(n) or role(n) not in ("panel", "filler"):
                    desc = n.get_description() if role(n) == "list item" else ""
                    lines.append(f"{role(n)} {name(n)!r}" + (f" ({desc})" if desc else ""))
        return "\n".join(lines)


def click(node):
    """The first action of a button ("click") or a row ("activate")."""
    assert Atspi.Action.do_action(node, 0), f"{role(node)} {name(node)!r} did not take its action"


def select(list_node, item_name):
    """Select the item so named in a list, through the list's Selection
    interface (GTK 4.8's list rows offer no action)."""
    for i in range(list_node.get_child_count()):
        if name(list_node.get_child_at_index(i)) == item_name:
            assert Atspi.Selection.select_child(list_node, i), f"could not select {item_name!r}"
            return
    raise AssertionError(f"no {item_name!r} in {name(list_node)!r}")


def set_text(node, value_text):
    assert "EditableText" in node.get_interfaces(), f"{role(node)} {name(node)!r} is not editable"
    assert Atspi.EditableText.set_text_contents(node, value_text), f"could not type into {name(node)!r}"


def label_texts(root):
    """The texts of every label below root."""
    return [text(n) for n in walk(root) if role(n) == "label"]


def screenshot(display, path):
    """The screen, trimmed to the windows on it (the root is black)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(["import", "-display", display, "-window", "root", "-trim", "+repage", path], check=True,
                   capture_output=True)
    return path



def focus(app):
    """Give the app's newest window the keyboard, as a window manager
    would on a click (the lane runs none)."""
    out = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--pid", str(app.proc.pid)],
                         capture_output=True, text=True, timeout=20, check=True).stdout.split()
    subprocess.run(["xdotool", "windowfocus", "--sync", out[-1]], check=True, timeout=20)


def keys(*combos):
    """Press keys as a keyboard does (XTest), e.g. keys("ctrl+n"), keys("Tab", "Return")."""
    subprocess.run(["xdotool", "key", "--delay", "60", *combos], check=True, timeout=20)
    time.sleep(0.2)


def focused(app):
    """The object that has the keyboard focus in the app, or None."""
    for w in app.windows():
        if w is None:
            continue
        for n in walk(w):
            if n.get_state_set().contains(Atspi.StateType.FOCUSED):
                return n
    return None


def has_state(node, nick):
    """Whether node is in the state so named ("visible", "selected"…)."""
    return node is not None and nick in [s.value_nick for s in node.get_state_set().get_states()]


def describe(node):
    return "nothing" if node is None else f"{role(node)} {name(node)!r}"

