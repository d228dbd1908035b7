# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by ./quickstart and ./run-tests: dependencies and the build.

EDGEVIRT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDGEVIRT_BUILD=${EDGEVIRT_BUILD:-$EDGEVIRT_TOP/build}

# Debian packages the build and the tests need.
EDGEVIRT_PACKAGES="meson ninja-build pkg-config gcc libc6-dev
  libsystemd-dev libglib2.0-dev libjson-glib-dev libyaml-dev libsqlite3-dev
  libcurl4-openssl-dev zlib1g-dev liblzma-dev libzstd-dev libbz2-dev qemu-utils
  gettext dbus systemd polkitd util-linux
  python3 python3-dbus python3-gi python3-pytest python3-yaml
  lvm2 thin-provisioning-tools debootstrap qemu-system-x86 e2fsprogs
  lighttpd lighttpd-mod-openssl openssl gzip xz-utils zstd bzip2 procps bash-completion groff-base
  clang libclang-rt-14-dev
  libvirt-dev libvirt-daemon-system libvirt-clients dnsmasq-base tini ovmf swtpm swtpm-tools
  libisofs-dev genisoimage extlinux syslinux-common fdisk dosfstools mtools
  libmicrohttpd-dev libgnutls28-dev prometheus python3-prometheus-client
  docker-registry skopeo apache2-utils valgrind nbdkit libseccomp-dev
  debhelper dpkg-dev fakeroot lintian
  libgtk-4-dev libadwaita-1-dev libvte-2.91-gtk4-dev xvfb xauth xdotool at-spi2-core python3-pyatspi gir1.2-atspi-2.0
  desktop-file-utils appstream imagemagick"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install what is missing (idempotent: nothing is fetched when all is there).
install_deps() {
        local missing=()
        for p in $EDGEVIRT_PACKAGES; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install failed"
}

build() {
        if [ ! -f "$EDGEVIRT_BUILD/build.ninja" ]; then
                say "configuring $EDGEVIRT_BUILD"
                meson setup "$EDGEVIRT_BUILD" "$EDGEVIRT_TOP" >/dev/null || die "meson setup failed"
        fi
        say "building"
        ninja -C "$EDGEVIRT_BUILD" >/dev/null || { ninja -C "$EDGEVIRT_BUILD"; die "build failed"; }
}

# Debian's python3 carries python3-dbus and python3-gi; a python3 earlier in
# PATH (pyenv, venv) does not.
PYTHON=/usr/bin/python3
