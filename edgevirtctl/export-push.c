/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl export --push-disks=REGISTRY/PREFIX: every claim the
 * exported VMs use pushed as a containerDisk (PersistentVolumeClaim.Push,
 * in the daemon's importer), and the manifests changed to bring the data
 * back: the claims become DataVolumes (or their dataVolumeTemplates)
 * importing from docker://REGISTRY/PREFIX/<namespace>-<claim>:<tag>. */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ctl.h"
#include "json-util.h"
#include "util.h"

#define PVC_INTERFACE "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
/* a push or a download of a large disk */
#define PUSH_TIMEOUT_USEC (6 * 3600ull * G_USEC_PER_SEC)
#define CHECKSUM_ANNOTATION "edgevirt.io/disk-checksum"

/* The claims of a VM not in pushed yet: a volume's claimName or
 * dataVolume name (a DataVolume's claim has its name). */
static GPtrArray *vm_claims(JsonObject *vm, GPtrArray *pushed) {
        GPtrArray *claims = g_ptr_array_new();
        JsonArray *vols = json_get_array(json_get_object(json_get_object(json_get_object(vm, "spec"), "template"),
                                                         "spec"), "volumes");
        for (guint v = 0; vols && v < json_array_get_length(vols); v++) {
                JsonObject *vol = json_array_get_object_element(vols, v);
                const char *claim = json_get_string(json_get_object(vol, "persistentVolumeClaim"), "claimName");
                if (!claim)
                        claim = json_get_string(json_get_object(vol, "dataVolume"), "name");
                if (claim && !g_ptr_array_find_with_equal_func(pushed, claim, g_str_equal, NULL) &&
                    !g_ptr_array_find_with_equal_func(claims, claim, g_str_equal, NULL))
                        g_ptr_array_add(claims, (char *) claim);
        }
        return claims;
}

/* A DataVolume spec's source: the pushed image. */
static void set_registry_source(Ctl *c, JsonObject *dv, const char *image, const char *checksum) {
        JsonObject *spec = json_ensure_object(dv, "spec");
        JsonObject *source = json_object_new(), *registry = json_object_new();
        json_object_set_string_member(registry, "url", image);
        if (c->creds_secret)
                json_object_set_string_member(registry, "secretRef", c->creds_secret);
        json_object_set_object_member(source, "registry", registry);
        json_object_remove_member(spec, "sourceRef");
        json_object_set_object_member(spec, "source", source);
        JsonObject *ann = json_ensure_object(json_ensure_object(dv, "metadata"), "annotations");
        json_object_set_string_member(ann, CHECKSUM_ANNOTATION, checksum);
}

/* The claim turned into a DataVolume of the same name in place (a VM's
 * claimName finds the claim it makes), the claim's spec as spec.storage. */
static void claim_to_datavolume(Ctl *c, JsonObject *o, const char *image, const char *checksum) {
        g_autoptr(JsonNode) spec_node = json_object_dup_member(o, "spec");
        JsonObject *spec = spec_node && JSON_NODE_HOLDS_OBJECT(spec_node) ? json_node_get_object(spec_node) : NULL;
        JsonObject *storage = json_object_new();

        for (const char *const *k = (const char *const[]) { "accessModes", "resources", "volumeMode",
                                                            "storageClassName", NULL }; spec && *k; k++)
                if (json_object_has_member(spec, *k))
                        json_object_set_member(storage, *k, json_object_dup_member(spec, *k));
        json_object_set_string_member(o, "apiVersion", "cdi.kubevirt.io/v1beta1");
        json_object_set_string_member(o, "kind", "DataVolume");
        json_object_remove_member(o, "spec");
        json_object_set_object_member(json_ensure_object(o, "spec"), "storage", storage);
        set_registry_source(c, o, image, checksum);
}

/* claim's DataVolume (template or object) or claim object pointed at image. */
static int rewrite(Ctl *c, JsonArray *out, const char *claim, const char *image, const char *checksum) {
        for (guint i = 0; i < json_array_get_length(out); i++) {
                JsonObject *o = json_array_get_object_element(out, i);
                const char *kind = json_get_string(o, "kind");
                const char *name = json_get_string(json_get_object(o, "metadata"), "name");
                if (streq_ptr(kind, "VirtualMachine")) {
                        JsonArray *t = json_get_array(json_get_object(o, "spec"), "dataVolumeTemplates");
                        for (guint k = 0; t && k < json_array_get_length(t); k++) {
                                JsonObject *dvt = json_array_get_object_element(t, k);
                                if (streq_ptr(json_get_string(json_get_object(dvt, "metadata"), "name"), claim)) {
                                        set_registry_source(c, dvt, image, checksum);
                                        return 0;
                                }
                        }
                } else if (streq_ptr(kind, "DataVolume") && streq_ptr(name, claim)) {
                        set_registry_source(c, o, image, checksum);
                        return 0;
                } else if (streq_ptr(kind, "PersistentVolumeClaim") && streq_ptr(name, claim)) {
                        claim_to_datavolume(c, o, image, checksum);
                        return 0;
                }
        }
        return fail(_("claim \"%s\" of a VM is neither exported nor made by a DataVolume in namespace \"%s\""),
                    claim, c->namespace);
}

/* A call under way: its progress signals shown, its reply kept. */
typedef struct ProgressWait {
        const char *label;
        sd_bus_message *reply;
        bool tty;
} ProgressWait;

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ProgressWait *w = userdata;
        uint64_t sent, total;

        if (sd_bus_message_read(m, "tt", &sent, &total) < 0)
                return 0;
        if (w->tty) {   /* one line rewritten: a bar */
                int bar = total ? (int) (sent * 30 / total) : 30;
                fputc('\r', stderr);
                fprintf(stderr, _("  %s: [%.*s%*s] %3d%%  %" PRIu64 " of %" PRIu64 " bytes"), w->label, bar,
                        "##############################", 30 - bar, "", total ? (int) (sent * 100 / total) : 100,
                        sent, total);
        } else          /* a line each (a log) */
                fprintf(stderr, _("  %s: %" PRIu64 " of %" PRIu64 " bytes\n"), w->label, sent, total);
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ProgressWait *w = userdata;
        w->reply = sd_bus_message_ref(m);
        return 0;
}

int ctl_call_with_progress(Ctl *c, sd_bus_message *m, const char *interface, const char *signal_name,
                           const char *label, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *signal = NULL, *call = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        ProgressWait w = { .label = label, .tty = isatty(STDERR_FILENO) };
        int r = sd_event_new(&event);

        if (r >= 0)
                r = sd_bus_attach_event(c->bus, event, 0);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &signal, NAME, sd_bus_message_get_path(m), interface, signal_name,
                                        on_progress, &w);
        if (r >= 0)
                r = sd_bus_call_async(c->bus, &call, m, on_reply, &w, PUSH_TIMEOUT_USEC);
        while (r >= 0 && !w.reply)
                r = sd_event_run(event, UINT64_MAX);
        sd_bus_detach_event(c->bus);
        if (w.tty)
                fputc('\n', stderr);
        *ret_reply = w.reply;
        return r < 0 ? r : 0;
}

static int push_claim(Ctl *c, const char *claim, const char *snapshot, const char **ret_image,
                      const char **ret_checksum, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *path = ctl_object_path(c->namespace, "pvc", claim);
        g_autofree char *repo = g_strdup_printf("%s/%s-%s", c->push_disks, c->namespace, claim);
        const char *digest;
        uint64_t uploaded;
        int r;

        if ((r = sd_bus_message_new_method_call(c->bus, &m, NAME, path, PVC_INTERFACE, "Push")) >= 0 &&
            (r = sd_bus_message_append(m, "s", repo)) >= 0 &&
            (r = sd_bus_message_open_container(m, 'a', "{sv}")) >= 0 && c->tls_verify >= 0)
                r = sd_bus_message_append(m, "{sv}", "tls-verify", "b", c->tls_verify);
        if (r >= 0 && c->creds_secret)
                r = sd_bus_message_append(m, "{sv}", "creds-secret", "s", c->creds_secret);
        if (r >= 0 && snapshot)
                r = sd_bus_message_append(m, "{sv}", "snapshot", "s", snapshot);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        fprintf(stderr, _("pushing the disk of claim %s to %s...\n"), claim, repo);
        if ((r = ctl_call_with_progress(c, m, PVC_INTERFACE, "PushProgress", claim, ret_reply)) < 0)
                return fail("%s", g_strerror(-r));
        if (sd_bus_message_is_method_error(*ret_reply, NULL)) {
                r = sd_bus_error_copy(&e, sd_bus_message_get_error(*ret_reply));
                if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                        return fail(_("claim \"%s\" not found in namespace \"%s\""), claim, c->namespace);
                fprintf(stderr, _("pushing the disk of claim %s failed:\n"), claim);
                return bus_fail(&e, r);
        }
        if ((r = sd_bus_message_read(*ret_reply, "ssst", ret_image, &digest, ret_checksum, &uploaded)) < 0)
                return fail("%s", g_strerror(-r));
        fprintf(stderr, _("pushed %s (%s, disk %s, %" PRIu64 " bytes sent)\n"), *ret_image, digest,
                *ret_checksum, uploaded);
        return 0;
}

/* The names of the namespace's VMs that have an instance (run). */
static int running_vms(Ctl *c, GHashTable **ret) {
        g_autofree char *doc = NULL;
        int r = ctl_call_document(c, "List", "virtualmachineinstances", c->namespace, NULL, "json", NULL, &doc);
        if (r)
                return r;
        g_autoptr(JsonNode) list = parse_json(doc);
        JsonArray *items = json_get_array(json_node_get_object(list), "items");
        *ret = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (guint i = 0; items && i < json_array_get_length(items); i++)
                g_hash_table_add(*ret, g_strdup(str(json_array_get_object_element(items, i), "metadata.name")));
        return 0;
}

/* A running VM's disks are pushed from a VirtualMachineSnapshot of it
 * (its file systems frozen through the guest agent, or it paused, for the
 * time of the copies), made here and deleted when the push is done. */
#define EXPORT_PUSH_LABEL "edgevirt.io/export-push"

static int take_snapshot(Ctl *c, const char *vm, char **ret_name) {
        static const char *const phases[] = { "Succeeded", "Failed", NULL };
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *name = g_strdup_printf("export-%.40s-%08x", vm, g_random_int());
        g_autoptr(JsonObject) snap = json_object_new();
        JsonObject *meta = json_object_new(), *source = json_object_new();
        const char *phase;

        json_object_set_string_member(snap, "apiVersion", "snapshot.kubevirt.io/v1beta1");
        json_object_set_string_member(snap, "kind", "VirtualMachineSnapshot");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", c->namespace);
        /* found by it if this client dies before deleting it (docs/export.md) */
        json_object_set_string_member(json_ensure_object(meta, "labels"), EXPORT_PUSH_LABEL, "true");
        json_object_set_object_member(snap, "metadata", meta);
        json_object_set_string_member(source, "apiGroup", "kubevirt.io");
        json_object_set_string_member(source, "kind", "VirtualMachine");
        json_object_set_string_member(source, "name", vm);
        json_object_set_object_member(json_ensure_object(snap, "spec"), "source", source);
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), snap);
        g_autofree char *doc = json_to_string(node, FALSE);
        fprintf(stderr, _("VM %s runs: taking snapshot %s to push its disks from\n"), vm, name);
        int r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Apply", &e, NULL, "sa{sv}", doc, 0);
        if (r < 0)
                return bus_fail(&e, r);
        *ret_name = g_strdup(name);
        if ((r = ctl_wait_phase(c, "vmsnapshot", name, phases, &phase)))
                return r;
        if (streq(phase, "Failed"))
                return fail(_("snapshot %s of VM %s failed (edgevirtctl describe vmsnapshot %s says why)"), name, vm,
                            name);
        /* how the guest was held: GuestAgent (frozen) or NoGuestAgent (paused) */
        g_autofree char *taken = NULL;
        if ((r = ctl_call_document(c, "Get", "vmsnapshot", c->namespace, name, "json", NULL, &taken)))
                return r;
        g_autoptr(JsonNode) tn = parse_json(taken);
        JsonArray *ind = json_get_array(json_get_object(json_node_get_object(tn), "status"), "indications");
        g_autoptr(GString) how = g_string_new(NULL);
        for (guint i = 0; ind && i < json_array_get_length(ind); i++)
                g_string_append_printf(how, "%s%s", i ? ", " : "", json_array_get_string_element(ind, i));
        fprintf(stderr, _("snapshot %s taken (%s)\n"), name, how->str);
        return 0;
}

static void delete_snapshot(Ctl *c, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Delete", &e, NULL, "sssa{sv}", "vmsnapshot",
                                   c->namespace, name, 0);
        if (r < 0)
                fprintf(stderr, _("cannot delete snapshot %s: %s\n"), name, e.message ? e.message : g_strerror(-r));
}

/* The claims of one VM pushed (from a snapshot when it runs), and out
 * changed to import them. */
static int push_vm(Ctl *c, JsonArray *out, JsonObject *vm, bool running, GPtrArray *pushed) {
        g_autoptr(GPtrArray) claims = vm_claims(vm, pushed);
        g_autofree char *snapshot = NULL;
        int r = 0;

        if (claims->len && running)
                r = take_snapshot(c, str(vm, "metadata.name"), &snapshot);
        for (guint i = 0; r == 0 && i < claims->len; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *image, *checksum;
                if ((r = push_claim(c, claims->pdata[i], snapshot, &image, &checksum, &reply)))
                        break;
                g_ptr_array_add(pushed, g_strdup(claims->pdata[i]));
                r = rewrite(c, out, claims->pdata[i], image, checksum);
        }
        if (snapshot)
                delete_snapshot(c, snapshot);
        return r;
}

int export_push_disks(Ctl *c, JsonArray *out) {
        g_autoptr(GPtrArray) pushed = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) running = NULL;
        int r = running_vms(c, &running);

        for (guint i = 0; r == 0 && i < json_array_get_length(out); i++) {
                JsonObject *o = json_array_get_object_element(out, i);
                if (streq_ptr(json_get_string(o, "kind"), "VirtualMachine"))
                        r = push_vm(c, out, o, g_hash_table_contains(running, str(o, "metadata.name")), pushed);
        }
        return r;
}
