/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where EFI variable stores live, and their copies (firmware-store.h). */
#include <errno.h>
#include <sys/stat.h>

#include "firmware-store.h"
#include "util.h"

#define STORE_FILE "nvram.fd"

char *firmware_vm_store(const char *state_dir, const char *vm_uid) {
        return g_build_filename(state_dir, "instances", vm_uid, STORE_FILE, NULL);
}

char *firmware_snapshot_store(const char *state_dir, const char *snapshot_uid) {
        if (!snapshot_uid || !g_uuid_string_is_valid(snapshot_uid))
                return NULL;
        return g_build_filename(state_dir, "snapshots", snapshot_uid, STORE_FILE, NULL);
}

int firmware_store_copy(const char *src, const char *dst, GError **error) {
        g_autofree char *dir = g_path_get_dirname(dst);
        g_autofree char *bytes = NULL;
        gsize len = 0;

        /* QEMU (libvirt's user) opens the store: the directory is traversable */
        if (g_mkdir_with_parents(dir, 0711) < 0 || chmod(dir, 0711) < 0)
                return ev_error_set(error, errno, "cannot make %s: %s", dir, g_strerror(errno));
        if (!g_file_get_contents(src, &bytes, &len, error) ||
            !g_file_set_contents_full(dst, bytes, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
                return -EIO;
        return 0;
}
