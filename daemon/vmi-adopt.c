/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adoption and recovery: at start (and when libvirt's connection comes
 * back) the domains libvirt runs are listed; ours are adopted, domains no
 * instance owns any more are destroyed, and per-instance directories
 * nothing owns are removed.  A destroy libvirt did not carry out (it was
 * gone) is sent again. */
#include "firmware-store.h"
#include "json-util.h"
#include "log.h"
#include "util.h"
#include "vmi-private.h"

/* The text of one element of our metadata.  libvirt hands the element
 * back re-serialized, with a prefix of its choosing (or a default
 * namespace), so elements are matched by local name. */
typedef struct MetaParse {
        const char *want;
        bool inside;
        GString *text;
} MetaParse;

static const char *local_name(const char *name) {
        const char *colon = strrchr(name, ':');
        return colon ? colon + 1 : name;
}

static void meta_start(GMarkupParseContext *ctx, const char *name, const char **an, const char **av, void *data,
                       GError **error) {
        MetaParse *p = data;
        p->inside = streq(local_name(name), p->want) && !p->text;
        if (p->inside)
                p->text = g_string_new(NULL);
}

static void meta_end(GMarkupParseContext *ctx, const char *name, void *data, GError **error) {
        ((MetaParse *) data)->inside = false;
}

static void meta_text(GMarkupParseContext *ctx, const char *text, gsize len, void *data, GError **error) {
        MetaParse *p = data;
        if (p->inside)
                g_string_append_len(p->text, text, (gssize) len);
}

static char *metadata_value(const char *xml, const char *element) {
        static const GMarkupParser parser = { .start_element = meta_start, .end_element = meta_end, .text = meta_text };
        MetaParse p = { .want = element };
        GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
        bool ok = g_markup_parse_context_parse(ctx, xml, -1, NULL) && g_markup_parse_context_end_parse(ctx, NULL);

        g_markup_parse_context_free(ctx);
        if (!p.text)
                return NULL;
        if (!ok) {
                g_string_free(p.text, TRUE);
                return NULL;
        }
        return g_strstrip(g_string_free(p.text, FALSE));
}

static void listed(HvOp *op) {
        VmiController *c = op->userdata;
        GHashTableIter it;
        Instance *inst;

        if (op->r < 0) {
                g_warning("cannot list libvirt's domains: %s; trying again", op->error);
                sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
                return;
        }
        g_hash_table_iter_init(&it, c->instances);
        while (g_hash_table_iter_next(&it, NULL, (void **) &inst))
                inst->domain = false;
        for (guint i = 0; i < op->domains->len; i++) {
                HvDomain *hd = op->domains->pdata[i];
                g_autofree char *uid = metadata_value(hd->metadata, "uid");
                g_autofree char *owner = metadata_value(hd->metadata, "owner");
                Object *vmi = uid ? model_find_uid(c->model, uid) : NULL;

                if (!streq_ptr(owner, c->owner) || !hd->running)
                        continue;       /* another edgevirtd's, or a leftover definition */
                if (!vmi || vmi->kind != &kind_vmi || vmi_is_finished(vmi)) {
                        log_object(G_LOG_LEVEL_MESSAGE, vmi && vmi->kind == &kind_vmi ? vmi : NULL,
                                   "removing domain %s: no running instance owns it", hd->name);
                        hypervisor_submit(c->hv, hv_op_new(HV_OP_DESTROY, hd->name, vmi_op_logged, c));
                        continue;
                }
                inst = vmi_instance_get(c, uid);
                inst->domain = true;
                inst->paused = hd->paused;
                /* Said, so that an admin (and tests/host) can tell a VM
                 * that lived through a daemon restart from one started
                 * again. */
                log_object_id(G_LOG_LEVEL_MESSAGE, vmi, LOG_MESSAGE_ID_DOMAIN_ADOPTED, "adopted running domain %s",
                              hd->name);
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Running", .paused = hd->paused, .agent = -1 });
                vmi_check_agent(c, vmi);
                inst->address_due = g_get_monotonic_time();
        }
        c->listed = true;
        /* per-instance files nothing owns */
        const char *dirs[] = { c->instances_dir, c->runtime_dir };
        for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
                g_autoptr(GDir) dir = g_dir_open(dirs[i], 0, NULL);
                const char *entry;
                while (dir && (entry = g_dir_read_name(dir))) {
                        Object *o = model_find_uid(c->model, entry);
                        if (o && (o->kind != &kind_vmi || !vmi_is_finished(o)))
                                continue;
                        if (i == 0)
                                vmi_forget_owner_files(c, entry, !o || firmware_tpm_persistent(
                                                               json_get_object(object_root(o), "spec")));
                        else
                                worker_submit(c->services->worker, ev_remove_tree, g_free,
                                              g_build_filename(dirs[i], entry, NULL));
                }
        }
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        g_autoptr(GPtrArray) all = model_list(c->model, &kind_vmi, NULL, NULL);
        for (guint i = 0; i < all->len; i++)
                model_enqueue(c->model, all->pdata[i]);
        model_enqueue_kind(c->model, &kind_vm);      /* what they show follows what was adopted */
}

void vmi_list_domains(VmiController *c) {
        c->listed = false;
        hypervisor_submit(c->hv, hv_op_new(HV_OP_LIST, NULL, listed, c));
}

void vmi_op_logged(HvOp *op) {
        VmiController *c = op->userdata;
        if (op->r < 0 && op->r != -ENOENT)
                log_object(G_LOG_LEVEL_WARNING, vmi_find_by_domain(c->model, op->domain), "libvirt: %s %s: %s",
                           op->kind == HV_OP_DESTROY ? "destroy" : "shutdown", op->domain, op->error);
}

#define DESTROY_BACKOFF_MAX (30 * G_USEC_PER_SEC)

/* A destroy that failed (libvirtd gone or restarting, a refusal) is sent
 * again by the tick until the domain is gone, 1 s later, then 2, 4... up
 * to every 30 s: a stop asked for while libvirtd was down ends once it is
 * back.  Its error is logged when it changes, not at every try. */
void vmi_destroy_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = vmi_find_by_domain(c->model, op->domain);
        Instance *inst = vmi ? vmi_instance_find(c, vmi->uid) : NULL;

        if (op->r >= 0 || op->r == -ENOENT) {
                if (inst) {
                        inst->destroy_backoff = 0;
                        inst->destroy_error = 0;
                }
                /* gone: libvirt's STOPPED event need not come (a destroy
                 * right after libvirtd came back was seen to have none) */
                if (inst && inst->domain && inst->stopping)
                        vmi_domain_stopped(c, vmi, inst, HV_STOP_DESTROYED);
                return;
        }
        guint error = g_str_hash(op->error ? op->error : "");
        if (!inst || !inst->destroy_backoff || inst->destroy_error != error)
                vmi_op_logged(op);
        if (!inst || !inst->stopping)
                return;
        inst->destroy_error = error;
        inst->destroy_backoff = inst->destroy_backoff ? MIN(2 * inst->destroy_backoff, DESTROY_BACKOFF_MAX)
                                                      : G_USEC_PER_SEC;
        inst->stop_deadline = g_get_monotonic_time() + inst->destroy_backoff;
        inst->destroy_sent = false;
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
}
