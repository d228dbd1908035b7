#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The desktop lane: edgevirt-desktop under Xvfb, driven over AT-SPI as
# assistive technology sees it, against edgevirtd on a private bus with
# the libvirt test driver (tests/desktop/conftest.py); plus the .desktop
# file and AppStream metainfo validated.  Screenshots of the main views go
# next to the result, in desktop/.
#   tests/desktop/run.sh BUILD RESULT.xml
set -u
build=$(cd "$1" && pwd)
mkdir -p "$(dirname "$2")"
result="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
here=$(cd "$(dirname "$0")" && pwd)
shots="$(dirname "$result")/desktop"

cd "$here" &&
        EDGEVIRT_BUILD="$build" EDGEVIRT_DESKTOP_RESULTS="$shots" /usr/bin/python3 -m pytest -p no:cacheprovider \
                -q -rfE --junitxml="$result" .
