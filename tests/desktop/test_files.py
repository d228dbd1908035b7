# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a desktop picks up: the .desktop file and the AppStream metainfo,
as built (translations merged), pass their validators; the settings schema
compiles; the icons are SVG of the sizes their folders say."""
import os
import subprocess
import xml.etree.ElementTree as ET

from conftest import BUILD, TOP

APP_ID = "org.edgevirt.Desktop"


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout}{r.stderr}"
    return r.stdout + r.stderr


def test_desktop_file_validates():
    path = os.path.join(BUILD, "desktop", APP_ID + ".desktop")
    out = run("desktop-file-validate", path)
    assert "error" not in out.lower(), out
    text = open(path).read()
    assert "Exec=edgevirt-desktop" in text and "Icon=" + APP_ID in text
    assert "GenericName[de]=Virtuelle Maschinen" in text, "the German translation is merged"


def test_metainfo_validates():
    path = os.path.join(BUILD, "desktop", APP_ID + ".metainfo.xml")
    run("appstreamcli", "validate", "--no-net", "--pedantic", path)
    root = ET.parse(path).getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == APP_ID + ".desktop"


def test_german_catalog_is_complete(tmp_path):
    """Every string of the app's sources, its .desktop file, metainfo and
    settings has its German translation (the catalog merged with what the
    sources say now)."""
    sources = [line.strip() for line in open(os.path.join(TOP, "po", "POTFILES")) if line.startswith("desktop/")]
    assert any(s.endswith(".c") for s in sources) and any(s.endswith(".desktop.in") for s in sources)
    pot, merged = tmp_path / "desktop.pot", tmp_path / "de.po"
    run("xgettext", "--from-code=UTF-8", "-k_", "-kN_", "-D", TOP, "-o", str(pot), *sources)
    run("msgmerge", "-q", "--no-fuzzy-matching", os.path.join(TOP, "po", "de.po"), str(pot), "-o", str(merged))
    out = run("msgfmt", "--check", "--statistics", "-o", "/dev/null", str(merged))
    assert "untranslated" not in out and "fuzzy" not in out, out + " in po/de.po (ninja edgevirt-update-po, translate)"


def test_settings_schema_compiles():
    assert os.path.exists(os.path.join(BUILD, "desktop", "data", "gschemas.compiled"))
    out = run("gsettings", "--schemadir", os.path.join(BUILD, "desktop", "data"), "list-keys", APP_ID)
    assert set(out.split()) == {"window-width", "window-height", "window-maximized", "last-namespace"}


def test_icons():
    icons = os.path.join(TOP, "desktop", "data", "icons", "hicolor")
    full = ET.parse(os.path.join(icons, "scalable", "apps", APP_ID + ".svg")).getroot()
    symbolic = ET.parse(os.path.join(icons, "symbolic", "apps", APP_ID + "-symbolic.svg")).getroot()
    assert (full.get("width"), full.get("height")) == ("128", "128")
    assert (symbolic.get("width"), symbolic.get("height")) == ("16", "16")
