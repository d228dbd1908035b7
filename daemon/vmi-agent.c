/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest agent of a running instance: its connection (libvirt's agent
 * events), its facts (guest info every 30 s), the access credentials it is
 * told, the addresses polled from it (or from the domain), and freezing
 * file systems for a snapshot. */
#include "credentials.h"
#include "json-util.h"
#include "log.h"
#include "util.h"
#include "vmi-private.h"

void vmi_agent_changed(VmiController *c, Object *vmi, bool connected) {
        Instance *inst = vmi_instance_get(c, vmi->uid);
        bool was = inst->agent != NULL;
        gint64 now = g_get_monotonic_time();

        if (connected && !was) {
                inst->agent = json_object_new();
                inst->guest_due = now;
                /* the agent knows the addresses best: ask now */
                inst->address_due = now;
                sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        } else if (!connected) {
                g_clear_pointer(&inst->agent, json_object_unref);
                inst->guest_due = 0;
        }
        /* a new agent (a reboot, a restart of it) is told everything again */
        g_clear_pointer(&inst->creds, credentials_sync_free);
        if (connected == was)
                return;
        vmi_write_status(c, vmi, &(VmiStatus) {
                .paused = -1, .agent = connected,
                .creds = !connected && agent_credentials_wanted(json_get_object(object_root(vmi), "spec")) ?
                         AGENT_OFFLINE : NULL });
        /* AgentConnected reads the instance, not the status: a status that
         * already said so (kept across a restart of the daemon) is not
         * written again, and would tell nobody */
        model_notify_changed(c->model, vmi);
}

static void credentials_done(HvOp *op) {
        VmiController *c = op->userdata;
        Instance *inst = vmi_instance_find(c, op->tag);
        CredentialsSync *s = inst ? inst->creds : NULL;
        Object *vmi = model_find_uid(c->model, op->tag);

        if (!s || !s->sending)
                return;         /* the agent went (and maybe came back) meanwhile */
        credentials_sync_done(s, op->r == 0, g_get_monotonic_time());
        if (op->r < 0)
                log_object(G_LOG_LEVEL_MESSAGE, vmi, "access credentials not synchronized (uid %s): %s", op->tag,
                           op->error ?: g_strerror(-op->r));
        if (vmi)
                vmi_write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1,
                                                        .creds = op->r == 0 ? "" : op->error ?: g_strerror(-op->r) });
}

/* On the tick, while the agent is connected: the Secrets' state goes to the
 * guest when it changed, after a failure (in a while), and every few
 * minutes in case the guest drifted. */
static void sync_credentials(VmiController *c, Object *vmi, gint64 now) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) users = NULL;
        g_autofree char *digest = NULL;
        Instance *inst = vmi_instance_get(c, vmi->uid);
        CredentialsSync *s;

        if (!agent_credentials_wanted(json_get_object(object_root(vmi), "spec")))
                return;
        if (!inst->creds)
                inst->creds = g_new0(CredentialsSync, 1);
        s = inst->creds;
        if (s->sending)
                return;
        if (agent_credentials_resolve(c->model, vmi, &users, &digest, &e) < 0) {
                credentials_sync_unresolved(s);
                vmi_write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1, .creds = e->message });
                return;
        }
        if (!credentials_sync_due(s, digest, now))
                return;
        g_autofree char *name = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(HV_OP_SET_CREDENTIALS, name, credentials_done, c);
        op->tag = g_strdup(vmi->uid);
        op->users = g_steal_pointer(&users);
        s->sending = g_steal_pointer(&digest);
        hypervisor_submit(c->hv, op);
}

static void agent_state_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        if (vmi && op->r == 0 && vmi_has_domain(c, vmi))
                vmi_agent_changed(c, vmi, op->agent_connected);
}

/* After a start or an adoption: an agent that connected before we looked
 * sends no event. */
void vmi_check_agent(VmiController *c, Object *vmi) {
        g_autofree char *name = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(HV_OP_AGENT_STATE, name, agent_state_done, c);
        op->tag = g_strdup(vmi->uid);
        hypervisor_submit(c->hv, op);
}

static void guest_info_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        Instance *inst = vmi_instance_find(c, op->tag);

        if (inst)
                inst->guest_busy = false;
        if (!vmi || !inst || !inst->guest_due)
                return;
        inst->guest_due = g_get_monotonic_time() + GUEST_INFO_USEC;
        if (op->r < 0 || !op->guest)
                return;         /* the agent is still starting, or went: its event says so */
        g_autoptr(JsonNode) a = json_node_init_object(json_node_alloc(), op->guest);
        g_autoptr(JsonNode) b = inst->agent ? json_node_init_object(json_node_alloc(), inst->agent) : NULL;
        bool changed = !json_equal(a, b);
        if (inst->agent)
                json_object_unref(inst->agent);
        inst->agent = json_object_ref(op->guest);
        vmi_write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1,
                                                .os_info = json_get_object(op->guest, "os") });
        if (changed)
                model_notify_changed(c->model, vmi);
}

JsonObject *vmi_guest_info(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        Instance *inst = c ? vmi_instance_find(c, vmi->uid) : NULL;
        JsonObject *g = inst ? inst->agent : NULL;
        return g && json_object_get_size(g) > 0 ? g : NULL;
}

bool vmi_agent_connected(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        Instance *inst = c ? vmi_instance_find(c, vmi->uid) : NULL;
        return inst && inst->agent;
}

typedef struct Quiesce {
        InstanceDone done;
        void *userdata;
} Quiesce;

static void quiesce_done(HvOp *op) {
        Quiesce *q = op->userdata;
        q->done(q->userdata, op->r, op->error ? op->error : op->r < 0 ? g_strerror(-op->r) : NULL);
        g_free(q);
}

static void quiesce_op(VmiController *c, Object *vmi, HvOpKind kind, InstanceDone done, void *userdata) {
        g_autofree char *name = vmi_domain_name(vmi);
        Quiesce *q = g_new0(Quiesce, 1);
        q->done = done;
        q->userdata = userdata;
        hypervisor_submit(c->hv, hv_op_new(kind, name, quiesce_done, q));
}

void vmi_quiesce(VmiController *c, Object *vmi, bool use_agent, const char **ret_how, InstanceDone done,
                 void *userdata) {
        if (use_agent && vmi_agent_connected(c->model, vmi)) {
                *ret_how = "GuestAgent";
                quiesce_op(c, vmi, HV_OP_FS_FREEZE, done, userdata);
        } else if (!vmi_is_paused(vmi)) {
                *ret_how = "Paused";
                quiesce_op(c, vmi, HV_OP_SUSPEND, done, userdata);
        } else {
                *ret_how = "";
                done(userdata, 0, NULL);
        }
}

void vmi_release(VmiController *c, Object *vmi, const char *how, InstanceDone done, void *userdata) {
        if (streq_ptr(how, "GuestAgent"))
                quiesce_op(c, vmi, HV_OP_FS_THAW, done, userdata);
        else if (streq_ptr(how, "Paused"))
                quiesce_op(c, vmi, HV_OP_RESUME, done, userdata);
        else
                done(userdata, 0, NULL);
}

/* --- addresses --- */

static void addresses_done(HvOp *op) {
        VmiController *c = op->userdata;
        const char *uid = op->tag;
        Object *vmi = model_find_uid(c->model, uid);
        Instance *inst = vmi_instance_find(c, uid);

        if (inst)
                inst->address_busy = false;
        if (!vmi || !inst || !inst->address_due || op->r < 0)
                return;
        JsonArray *ifaces = json_get_array(json_get_object(json_get_object(json_get_object(object_root(vmi), "spec"),
                                                                           "domain"), "devices"),
                                           "interfaces");
        JsonArray *out = json_array_new();
        bool any = false;
        for (guint i = 0; i < op->addresses->len; i++) {
                HvAddress *a = op->addresses->pdata[i];
                JsonObject *entry = NULL;
                for (guint j = 0; j < json_array_get_length(out); j++)
                        if (streq_ptr(json_get_string(json_array_get_object_element(out, j), "mac"), a->mac))
                                entry = json_array_get_object_element(out, j);
                if (!entry) {
                        entry = json_object_new();
                        json_object_set_string_member(entry, "mac", a->mac);
                        json_object_set_string_member(entry, "ipAddress", a->address);
                        if (a->name)
                                json_object_set_string_member(entry, "interfaceName", a->name);
                        json_object_set_string_member(entry, "infoSource",
                                                      op->from_agent ? "domain, guest-agent" : "domain");
                        json_object_set_array_member(entry, "ipAddresses", json_array_new());
                        /* name it after the spec's interface, in order */
                        guint k = json_array_get_length(out);
                        if (ifaces && k < json_array_get_length(ifaces))
                                json_object_set_string_member(entry, "name",
                                                              json_get_string(json_array_get_object_element(ifaces, k),
                                                                              "name"));
                        else if (!ifaces && k == 0)
                                json_object_set_string_member(entry, "name", "default");
                        json_array_add_object_element(out, entry);
                }
                json_array_add_string_element(json_get_array(entry, "ipAddresses"), a->address);
                any = true;
        }
        inst->address_due = g_get_monotonic_time() + (any ? ADDRESS_POLL_SLOW_USEC : ADDRESS_POLL_FAST_USEC);
        vmi_write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1, .interfaces = out });
}

/* --- the tick --- */

/* Submit kind for the instance if its time (*due, monotonic µs; 0: none)
 * has come and no such call is under way (*busy). */
static void submit_due(VmiController *c, Instance *inst, gint64 due, bool *busy, HvOpKind kind, HvOpDone done,
                       gint64 now) {
        Object *vmi = model_find_uid(c->model, inst->uid);

        if (!due || !vmi || *busy || now < due)
                return;
        g_autofree char *name = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(kind, name, done, c);
        op->tag = g_strdup(inst->uid);
        op->ask_agent = inst->agent != NULL;
        *busy = true;
        hypervisor_submit(c->hv, op);
}

void vmi_agent_tick(VmiController *c, gint64 now) {
        GHashTableIter it;
        Instance *inst;

        g_hash_table_iter_init(&it, c->instances);
        while (g_hash_table_iter_next(&it, NULL, (void **) &inst))
                submit_due(c, inst, inst->address_due, &inst->address_busy, HV_OP_ADDRESSES, addresses_done, now);
        g_hash_table_iter_init(&it, c->instances);
        while (g_hash_table_iter_next(&it, NULL, (void **) &inst))
                submit_due(c, inst, inst->guest_due, &inst->guest_busy, HV_OP_GUEST_INFO, guest_info_done, now);
        /* status is written on the way: not while walking the table */
        g_autoptr(GPtrArray) connected = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_iter_init(&it, c->instances);
        while (g_hash_table_iter_next(&it, NULL, (void **) &inst))
                if (inst->agent)
                        g_ptr_array_add(connected, g_strdup(inst->uid));
        for (guint i = 0; i < connected->len; i++) {
                Object *vmi = model_find_uid(c->model, connected->pdata[i]);
                if (vmi)
                        sync_credentials(c, vmi, now);
        }
}
