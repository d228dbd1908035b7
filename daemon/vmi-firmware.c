/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a VM's firmware keeps between its instances: the EFI variable
 * store (NVRAM) of firmware.bootloader.efi.persistent, a file of the VM in
 * the instances directory (<state>/instances/<vm uid>/nvram.fd), and the
 * swtpm state of devices.tpm.persistent, which libvirt keeps by the
 * domain's UUID (persistent_state).  Both go with the VM. */
#include <unistd.h>

#include "domain.h"
#include "firmware-store.h"
#include "json-util.h"
#include "util.h"
#include "vm-status.h"
#include "vmi-private.h"

#define OVMF_DIR "/usr/share/OVMF"     /* Debian's ovmf */

char *vmi_nvram_path(VmiController *c, Object *vmi) {
        JsonObject *spec = json_get_object(object_root(vmi), "spec");
        JsonObject *firmware = json_get_object(json_get_object(spec, "domain"), "firmware");
        JsonObject *efi = json_get_object(json_get_object(firmware, "bootloader"), "efi");
        Object *vm = vm_of_instance(c->model, vmi);

        /* a VMI of its own keeps its store as long as it lives, as its VM would */
        const char *owner = vm && json_get_bool(efi, "persistent", false) ? vm->uid : vmi->uid;
        return firmware_vm_store(c->services->state_dir, owner);
}

static const char *firmware_file(const char *name) {
        static char path[256];
        g_snprintf(path, sizeof path, OVMF_DIR "/%s", name);
        return g_file_test(path, G_FILE_TEST_EXISTS) ? g_intern_string(path) : NULL;
}

void vmi_firmware_host(DomainHost *h) {
        g_autofree char *swtpm = g_find_program_in_path("swtpm");

        h->efi_code = firmware_file("OVMF_CODE_4M.fd");
        h->efi_vars = firmware_file("OVMF_VARS_4M.fd");
        h->efi_code_secure = firmware_file("OVMF_CODE_4M.ms.fd") ? firmware_file("OVMF_CODE_4M.secboot.fd") : NULL;
        h->efi_vars_secure = firmware_file("OVMF_VARS_4M.ms.fd");
        h->swtpm = swtpm != NULL;
}

const char *vmi_nvram_template(JsonObject *spec, const DomainHost *h) {
        JsonObject *firmware = json_get_object(json_get_object(spec, "domain"), "firmware");
        JsonObject *efi = json_get_object(json_get_object(firmware, "bootloader"), "efi");

        if (!efi)
                return NULL;
        return json_get_bool(efi, "secureBoot", true) ? h->efi_vars_secure : h->efi_vars;
}

int vmi_nvram_prepare(const char *nvram, const char *template, char **ret_error) {
        g_autoptr(GError) e = NULL;

        if (access(nvram, F_OK) == 0)
                return 0;       /* the VM's, written by its firmware before: kept */
        int r = firmware_store_copy(template, nvram, &e);
        if (r < 0)
                *ret_error = g_strdup_printf("cannot make the EFI variable store %s: %s", nvram, e->message);
        return r;
}

int vmi_tpm_mark(VmiController *c, const char *owner_uid, const char *uuid, char **ret_error) {
        g_autoptr(GError) e = NULL;
        int r = firmware_tpm_mark(c->services->state_dir, owner_uid, uuid, &e);

        if (r < 0)
                *ret_error = g_strdup_printf("cannot record the vTPM's state as the VM's: %s", e->message);
        return r;
}

typedef struct Forget {
        char *uri, *dir;
        bool tpm;
} Forget;

static void forget_work(void *data) {
        Forget *f = data;
        firmware_forget_vm(f->uri, f->dir, f->tpm);
}

static void forget_free(void *data) {
        Forget *f = data;
        g_free(f->uri);
        g_free(f->dir);
        g_free(f);
}

void vmi_forget_owner_files(VmiController *c, const char *owner_uid, bool tpm) {
        Forget *f = g_new0(Forget, 1);
        f->uri = g_strdup(hypervisor_uri(c->hv));
        f->tpm = tpm;
        f->dir = g_build_filename(c->instances_dir, owner_uid, NULL);
        worker_submit(c->services->worker, forget_work, forget_free, f);
}

/* A VM went: its NVRAM goes with it, and the vTPM state its marker names
 * when it has a persistent vTPM (never a state it did not start). */
static void vm_changed(Model *m, Object *vm, ModelEvent event, void *userdata) {
        VmiController *c = userdata;
        JsonObject *spec = json_get_object(object_root(vm), "spec");

        if (event != MODEL_EVENT_REMOVED)
                return;
        vmi_forget_owner_files(c, vm->uid, firmware_tpm_persistent(json_get_object(json_get_object(spec, "template"),
                                                                                   "spec")));
}

const ModelWatch vmi_vm_firmware_watch = { .changed = vm_changed };
