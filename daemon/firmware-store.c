/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where EFI variable stores live, and their copies (firmware-store.h). */
#include <errno.h>
#include <sys/stat.h>

#include "firmware-store.h"
#include "json-util.h"
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

/* --- the swtpm state of a persistent vTPM --- */

#define TPM_COPY "swtpm"
#define TPM_MARKER "swtpm-uuid"

char *firmware_tpm_dir(const char *libvirt_uri, const char *uuid) {
        /* for the API tests only: the test driver has no swtpm, nor a place for its state */
        const char *root = g_getenv("EDGEVIRT_SWTPM_ROOT");

        if (!uuid || !g_uuid_string_is_valid(uuid))
                return NULL;
        if (!isempty(root))
                return g_build_filename(root, uuid, NULL);
        if (g_str_has_prefix(libvirt_uri ?: "", "qemu:///system"))
                return g_build_filename("/var/lib/libvirt/swtpm", uuid, NULL);
        if (g_str_has_prefix(libvirt_uri ?: "", "qemu:///session"))
                return g_build_filename(g_get_user_config_dir(), "libvirt", "qemu", "swtpm", uuid, NULL);
        return NULL;
}

const char *firmware_tpm_uuid(JsonObject *vmi_spec, const char *owner_uid) {
        JsonObject *firmware = json_get_object(json_get_object(vmi_spec, "domain"), "firmware");
        return json_get_string(firmware, "uuid") ?: owner_uid;
}

bool firmware_tpm_persistent(JsonObject *vmi_spec) {
        JsonObject *tpm = json_get_object(json_get_object(json_get_object(vmi_spec, "domain"), "devices"), "tpm");
        return tpm && json_get_bool(tpm, "enabled", true) && json_get_bool(tpm, "persistent", false);
}

char *firmware_snapshot_tpm(const char *state_dir, const char *snapshot_uid) {
        if (!snapshot_uid || !g_uuid_string_is_valid(snapshot_uid))
                return NULL;
        return g_build_filename(state_dir, "snapshots", snapshot_uid, TPM_COPY, NULL);
}

int firmware_tpm_copy(const char *src, const char *dst, GError **error) {
        g_autofree char *dir = g_path_get_dirname(dst), *err = NULL;
        /* owners (libvirt's swtpm user), modes and times as they are */
        const char *argv[] = { "cp", "-a", "-T", "--", src, dst, NULL };
        g_autoptr(GError) e = NULL;
        int status = 0;

        ev_remove_tree((void *) dst);
        if (g_mkdir_with_parents(dir, 0711) < 0)
                return ev_error_set(error, errno, "cannot make %s: %s", dir, g_strerror(errno));
        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL |
                          G_SPAWN_STDOUT_TO_DEV_NULL, ev_spawn_child_defaults, NULL, NULL, &err, &status, &e) ||
            !g_spawn_check_wait_status(status, NULL)) {
                ev_remove_tree((void *) dst);
                return ev_error_set(error, EIO, "cannot copy %s to %s: %s", src, dst,
                                    e ? e->message : g_strstrip(err));
        }
        return 0;
}

char *firmware_tpm_marker(const char *state_dir, const char *vm_uid) {
        return g_build_filename(state_dir, "instances", vm_uid, TPM_MARKER, NULL);
}

int firmware_tpm_mark(const char *state_dir, const char *vm_uid, const char *uuid, GError **error) {
        g_autofree char *marker = firmware_tpm_marker(state_dir, vm_uid);
        g_autofree char *dir = g_path_get_dirname(marker), *old = NULL;

        if (g_file_get_contents(marker, &old, NULL, NULL) && streq(g_strstrip(old), uuid))
                return 0;
        if (g_mkdir_with_parents(dir, 0711) < 0)
                return ev_error_set(error, errno, "cannot make %s: %s", dir, g_strerror(errno));
        if (!g_file_set_contents_full(marker, uuid, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
                return -EIO;
        return 0;
}

void firmware_forget_vm(const char *libvirt_uri, const char *vm_dir, bool tpm) {
        g_autofree char *marker = g_build_filename(vm_dir, TPM_MARKER, NULL), *uuid = NULL;

        /* only a state libvirt made for a VM of ours, as its marker says */
        if (tpm && g_file_get_contents(marker, &uuid, NULL, NULL)) {
                g_autofree char *state = firmware_tpm_dir(libvirt_uri, g_strstrip(uuid));
                if (state)
                        ev_remove_tree(state);
        }
        ev_remove_tree((void *) vm_dir);
}
