# SPDX-License-Identifier: LGPL-2.1-or-later
"""The create dialog: a VM whose DataVolume imports an image from a local
HTTP server (slow enough that the progress bar is seen moving), and errors
shown next to the field they name."""
import http.server
import os
import threading
import time

import ui
from conftest import api

IMAGE_SIZE = 24 << 20


class Trickle(http.server.BaseHTTPRequestHandler):
    """Serves a raw image of IMAGE_SIZE bytes in about eight seconds."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path != "/disk.raw":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(IMAGE_SIZE))
        self.end_headers()
        chunk = b"EDGEVIRT" * (64 << 10 >> 3)      # 64 KiB
        try:
            for _ in range(IMAGE_SIZE // len(chunk)):
                self.wfile.write(chunk)
                time.sleep(8.0 / (IMAGE_SIZE // len(chunk)))
        except (BrokenPipeError, ConnectionResetError):
            pass


def serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_dialog(app):
    ui.click(app.wait_one("push button", name_is="New Virtual Machine"))
    return ui.wait(lambda: app.window("New Virtual Machine"), 20, "the New Virtual Machine dialog")


def field(app, dialog, title):
    return app.wait_one("text", name_is=title, root=dialog)


def test_create_imports_a_disk_with_progress(client, desktop):
    server = serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/disk.raw"
    try:
        app = desktop.start()
        app.wait_one("list item", name_is="team")
        dialog = open_dialog(app)
        ui.set_text(field(app, dialog, "Name"), "fresh")
        ui.set_text(field(app, dialog, "Image URL"), url)
        ui.set_text(field(app, dialog, "Disk size"), "64Mi")
        ui.set_text(field(app, dialog, "Memory"), "64Mi")
        ui.set_text(app.wait_one("text", name_is="SSH public key", root=dialog),
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVkZ2V2aXJ0LXRlc3Qta2V5LW5vdC1yZWFs test@edgevirt")
        desktop.screenshot("create")
        ui.click(app.wait_one("push button", name_is="Create", root=dialog))
        bar = app.wait_one("progress bar", name_is="Disk progress", root=dialog)
        seen = []
        shot = False
        dv_path = api.ROOT + "/namespace/team/datavolume/fresh_2ddisk"

        def phase():
            try:
                return client.props(dv_path, "org.edgevirt.EdgeVirt1.DataVolume")["Phase"]
            except Exception:
                return None
        while phase() != "Succeeded":
            try:
                v = ui.value(bar)
            except Exception:       # the dialog closed: the import is done
                break
            if not seen or seen[-1] != v:
                seen.append(v)
            if 0.2 < v < 0.9 and not shot:     # GTK gives the fraction, 0 to 1
                desktop.screenshot("create-progress")
                shot = True
            assert len(seen) < 10000
            time.sleep(0.2)
        print("progress seen:", seen)
        moving = [v for v in seen if 0 < v < 1]
        assert len(set(moving)) >= 2, f"the progress bar did not move: {seen}"
        assert moving == sorted(moving), f"the progress went back: {seen}"
        # what was made: the VM with its DataVolume from the URL and the key's Secret
        vm = client.get_json("vm", "team", "fresh")
        assert vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"]["http"]["url"] == url
        assert client.get_json("secret", "team", "fresh-ssh-key")["type"] == "Opaque"
        api.wait_until(lambda: phase() == "Succeeded", 60, what="the import to finish")
        # the dialog closes itself, and the VM is listed, its disk among the volumes
        ui.wait(lambda: app.window("New Virtual Machine") is None, 30, "the dialog to close")
        app.wait_one("list item", name_is="fresh")
        disk = app.wait_one("list item", name_is="fresh-disk")
        ui.wait(lambda: "Ready" in ui.label_texts(disk), 30, "the disk's row to say it is ready")
    finally:
        server.shutdown()


def test_errors_show_next_to_their_field(client, desktop):
    app = desktop.start()
    app.wait_one("list item", name_is="team")
    dialog = open_dialog(app)
    # the form's own check
    ui.set_text(field(app, dialog, "Name"), "Not_A_Name")
    ui.set_text(field(app, dialog, "Image URL"), "http://127.0.0.1:9/disk.raw")
    ui.click(app.wait_one("push button", name_is="Create", root=dialog))
    app.wait_one("label", name_has="Lower-case letters, digits", root=dialog)
    # the daemon's: a memory quantity it refuses, named by its field path
    ui.set_text(field(app, dialog, "Name"), "okname")
    ui.set_text(field(app, dialog, "Memory"), "0")
    ui.click(app.wait_one("push button", name_is="Create", root=dialog))
    err = app.wait_one("label", name_has="spec.template.spec.domain.memory", root=dialog)
    # next to the Memory field: its error label is the one that describes it
    memory = field(app, dialog, "Memory")
    described = [t.get_name() for r in [memory.get_relation_set()] for rel in r
                 if rel.get_relation_type() == ui.Atspi.RelationType.DESCRIBED_BY
                 for t in [rel.get_target(i) for i in range(rel.get_n_targets())]]
    assert ui.text(err) in described, described
    assert ui.text(err).startswith("spec.template"), "the message starts with the field it names"
    desktop.screenshot("create-error")
    assert app.window("New Virtual Machine") is not None, "the dialog stays for the fix"
    assert not client.exists("vm", "team", "okname"), ui.text(err)


def test_create_uploads_a_local_image(client, desktop, session):
    image = os.path.join(session.tmp, "upload.raw")
    with open(image, "wb") as f:
        f.truncate(IMAGE_SIZE)
        f.seek(0)
        f.write(b"EDGEVIRT-UPLOADED-BOOT-SECTOR")
    os.chmod(image, 0o644)
    app = desktop.start()
    app.wait_one("list item", name_is="team")
    dialog = open_dialog(app)
    ui.set_text(field(app, dialog, "Name"), "uploaded")
    ui.click(app.wait_one("push button", name_is="Local File", root=dialog))
    ui.set_text(app.wait_one("text", name_is="Image file", root=dialog), image)
    ui.set_text(field(app, dialog, "Disk size"), "64Mi")
    ui.set_text(field(app, dialog, "Memory"), "64Mi")
    ui.click(app.wait_one("push button", name_is="Create", root=dialog))
    # a local file goes fast: the progress view may be gone before it is seen
    dv_path = api.ROOT + "/namespace/team/datavolume/uploaded_2ddisk"
    api.wait_until(lambda: client.exists("dv", "team", "uploaded-disk") and
                   client.props(dv_path, "org.edgevirt.EdgeVirt1.DataVolume")["Phase"] == "Succeeded", 60,
                   what="the upload to finish")
    dv = client.get_json("dv", "team", "uploaded-disk")
    assert "upload" in dv["spec"]["source"]
    assert dv["status"]["progress"] == "100.00%", dv["status"]
    ui.wait(lambda: app.window("New Virtual Machine") is None, 30, "the dialog to close")
    app.wait_one("list item", name_is="uploaded")
