/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which changes are events: the recorder watches the kinds whose status
 * tells what happened (model_watch) and records an event when an object's
 * phase moves, under the reasons KubeVirt's, CDI's and Kubernetes' own
 * controllers use for the same step.  The controllers stay as they are:
 * what they write is what is reported. */
#include "clone.h"
#include "event.h"
#include "json-util.h"
#include "util.h"

typedef struct Rule {
        const KindInfo *kind;
        const char *phase;              /* the new phase (state) this rule is for */
        bool warning;
        const char *reason;
        const char *message;            /* when the object's conditions say nothing better */
} Rule;

/* The state of an object that events follow: its phase, or for VMs the
 * printable status, for restores whether they are complete. */
static const char *state_of(Object *o) {
        JsonObject *status = json_get_object(object_root(o), "status");
        if (o->kind == &kind_vm)
                return json_get_string(status, "printableStatus");
        if (o->kind == &kind_vmrestore)
                return json_get_bool(status, "complete", false) ? "Complete" : NULL;
        return json_get_string(status, "phase");
}

static const Rule rules[] = {
        { &kind_datavolume, "ImportScheduled", false, "ImportScheduled", "Import into its claim scheduled" },
        { &kind_datavolume, "ImportInProgress", false, "ImportInProgress", "Import into its claim in progress" },
        { &kind_datavolume, "CloneInProgress", false, "CloneInProgress", "Cloning into its claim" },
        { &kind_datavolume, "UploadReady", false, "UploadReady", "Upload into its claim ready" },
        { &kind_datavolume, "Succeeded", false, "ImportSucceeded", "Import Successful" },
        { &kind_datavolume, "Failed", true, "ImportFailed", "Import failed" },
        { &kind_pvc, "Bound", false, "ProvisioningSucceeded", "Successfully provisioned a volume" },
        { &kind_pvc, "Lost", true, "ClaimLost", "The claim's volume is gone" },
        { &kind_vmi, "Scheduled", false, "SuccessfulCreate", "VirtualMachineInstance defined" },
        { &kind_vmi, "Running", false, "Started", "VirtualMachineInstance started" },
        { &kind_vmi, "Succeeded", false, "Stopped", "The VirtualMachineInstance was shut down" },
        { &kind_vmi, "Failed", true, "Failed", "The VirtualMachineInstance failed" },
        { &kind_vm, "Starting", false, "SuccessfulCreate", "Started the virtual machine by creating a new instance" },
        { &kind_vm, "Stopped", false, "SuccessfulDelete", "The virtual machine stopped" },
        { &kind_vm, "CrashLoopBackOff", true, "CrashLoopBackOff", "Its instance failed: starting again after a pause" },
        { &kind_vmsnapshot, "Succeeded", false, "SnapshotReady", "The snapshot is ready to use" },
        { &kind_vmsnapshot, "Failed", true, "SnapshotFailed", "The snapshot failed" },
        { &kind_vmrestore, "Complete", false, "VirtualMachineRestoreComplete", "The restore is complete" },
        { &kind_vmclone, "Succeeded", false, "CloneSucceeded", "The clone is complete" },
        { &kind_vmclone, "Failed", true, "CloneFailed", "The clone failed" },
};

/* The words the object's own conditions have for its state: the message of
 * a condition that has one (a failure's first). */
static const char *condition_message(Object *o, bool warning) {
        JsonArray *conds = json_get_array(json_get_object(object_root(o), "status"), "conditions");
        const char *any = NULL;
        for (guint i = 0; conds && i < json_array_get_length(conds); i++) {
                JsonObject *c = json_array_get_object_element(conds, i);
                const char *msg = json_get_string(c, "message");
                if (isempty(msg))
                        continue;
                if (!warning || streq_ptr(json_get_string(c, "status"), "False") ||
                    streq_ptr(json_get_string(c, "type"), "Failure"))
                        return msg;
                any = any ?: msg;
        }
        return any;
}

/* A bound claim whose capacity grew was expanded (the external resizer's
 * event).  Its capacity is kept beside its phase, under "uid/capacity". */
static void claim_resized(EventRecorderWatch *w, Object *o) {
        g_autofree char *key = g_strconcat(o->uid, "/capacity", NULL);
        JsonObject *status = json_get_object(object_root(o), "status");
        const char *now = json_get_string(json_get_object(status, "capacity"), "storage");
        const char *was = g_hash_table_lookup(w->states, key);
        bool bound = streq_ptr(json_get_string(status, "phase"), "Bound");

        if (bound && was && now && !streq(was, now))
                event_record(w->recorder, o, false, "VolumeResizeSuccessful", "The volume was expanded to %s", now);
        if (bound && now)
                g_hash_table_replace(w->states, g_steal_pointer(&key), g_strdup(now));
}

static void on_changed(Model *m, Object *o, ModelEvent event, void *userdata) {
        EventRecorderWatch *w = userdata;
        const char *state = event == MODEL_EVENT_REMOVED ? NULL : state_of(o);
        const char *was = g_hash_table_lookup(w->states, o->uid);

        if (event == MODEL_EVENT_REMOVED) {
                g_autofree char *key = g_strconcat(o->uid, "/capacity", NULL);
                g_hash_table_remove(w->states, o->uid);
                g_hash_table_remove(w->states, key);
                return;
        }
        if (o->kind == &kind_pvc)
                claim_resized(w, o);
        if (!state || streq_ptr(state, was))
                return;
        g_hash_table_replace(w->states, g_strdup(o->uid), g_strdup(state));
        /* a new VM is Stopped first, before it starts or for good: that
         * stopped nothing (KubeVirt says nothing either) */
        if (!was && o->kind == &kind_vm && streq(state, "Stopped"))
                return;
        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
                const Rule *r = &rules[i];
                if (r->kind != o->kind || !streq(r->phase, state))
                        continue;
                const char *said = r->warning || o->kind == &kind_datavolume ? condition_message(o, r->warning) : NULL;
                event_record(w->recorder, o, r->warning, r->reason, "%s", said ?: r->message);
        }
}

static const ModelWatch watch = { .changed = on_changed };

void event_rules_watch(EventRecorderWatch *w, Model *m) {
        for (size_t i = 0; i < G_N_ELEMENTS(rules); i++) {
                if (i > 0 && rules[i - 1].kind == rules[i].kind)
                        continue;
                model_watch(m, rules[i].kind, &watch, w);
                /* what is there now is no news: only later moves are events */
                g_autoptr(GPtrArray) objects = model_list(m, rules[i].kind, NULL, NULL);
                for (guint k = 0; k < objects->len; k++) {
                        Object *o = objects->pdata[k];
                        const char *state = state_of(o);
                        if (state)
                                g_hash_table_replace(w->states, g_strdup(o->uid), g_strdup(state));
                        if (o->kind == &kind_pvc)
                                claim_resized(w, o);
                }
        }
}

void event_rules_unwatch(EventRecorderWatch *w, Model *m) {
        model_unwatch(m, &watch, w);
}
