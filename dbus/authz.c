/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* polkit, asked asynchronously (authz.h).  The answers wait in a table
 * keyed by the call (its sender and cookie) and what was asked, until the
 * call, dispatched again, picks them up; they are dropped after a while. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include <glib.h>

#include "authz.h"
#include "bus-calls.h"
#include "bus-error.h"
#include "event.h"
#include "object-path.h"
#include "services.h"
#include "util.h"
#include "worker.h"

#define ACTION_PREFIX "org.edgevirt.EdgeVirt1."
#define LOOKUP_THREADS 2
#define ANSWER_TTL_USEC (120 * G_USEC_PER_SEC)
#define INTERACTIVE_TIMEOUT_USEC (300 * G_USEC_PER_SEC)
#define POLKIT_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"

typedef enum AnswerState {
        ANSWER_PENDING,
        ANSWER_YES,
        ANSWER_NO,
        ANSWER_CHALLENGE,               /* polkit would ask for a password */
        ANSWER_ERROR,                   /* polkit could not be asked */
} AnswerState;

typedef struct Answer {
        AnswerState state;
        char *error;
        gint64 at;
} Answer;

struct Authz {
        Daemon *d;
        sd_bus *polkit_bus;             /* the system bus: d->bus when the daemon is on it */
        GHashTable *answers;            /* "sender/cookie" -> GHashTable of "action\nns\nkind\nname" -> Answer */
        GHashTable *callers;            /* unique name -> Caller */
        GHashTable *lookups;            /* unique name -> Lookup, while a caller is looked up */
        Worker *worker;                 /* NSS lookups, apart from the storage pool */
        sd_bus_slot *owner_changed;
        sd_bus_slot *filter;
};

typedef struct Query {
        Authz *a;
        sd_bus_message *m;
        Answer *answer;
} Query;

/* Who calls: uid, user name and groups, looked up once per bus name. */
typedef struct Caller {
        uid_t uid;
        bool privileged;
        char *user;
        char **groups;
} Caller;

/* A caller being looked up, and its calls held meanwhile. */
typedef struct Lookup {
        Authz *a;
        char *sender;
        uid_t uid;
        bool gone;                      /* the name left the bus meanwhile */
        sd_bus_slot *slot;              /* GetConnectionUnixUser */
        GPtrArray *held;                /* sd_bus_message, in the order they came */
        Caller *caller;                 /* the thread's result */
} Lookup;

static void caller_free(Caller *c) {
        g_free(c->user);
        g_strfreev(c->groups);
        g_free(c);
}

static void answer_free(Answer *x) {
        g_free(x->error);
        g_free(x);
}

/* The user's name and groups, as the system's NSS knows them: may block
 * (LDAP, sssd), so it runs on the lookup thread but for the fallback in
 * caller_of(). */
static Caller *caller_new(uid_t uid) {
        Caller *c = g_new0(Caller, 1);
        struct passwd pw, *found = NULL;
        char buf[4096];

        c->uid = uid;
        c->privileged = uid == 0 || uid == geteuid();
        if (c->privileged || getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found)
                return c;
        gid_t gids[256];
        int n = G_N_ELEMENTS(gids);
        c->user = g_strdup(found->pw_name);
        if (getgrouplist(found->pw_name, found->pw_gid, gids, &n) < 0)
                n = 0;
        GStrvBuilder *b = g_strv_builder_new();
        for (int i = 0; i < n; i++) {
                struct group gr, *g = NULL;
                char gbuf[4096];
                if (getgrgid_r(gids[i], &gr, gbuf, sizeof gbuf, &g) == 0 && g)
                        g_strv_builder_add(b, g->gr_name);
        }
        c->groups = g_strv_builder_end(b);
        g_strv_builder_unref(b);
        return c;
}

static void lookup_free(Lookup *l) {
        sd_bus_slot_unref(l->slot);
        g_ptr_array_unref(l->held);
        if (l->caller)
                caller_free(l->caller);
        g_free(l->sender);
        g_free(l);
}

/* The lookup is over: the held calls go on (dispatched again, in the order
 * they came) or are answered with why they cannot. */
static void lookup_finish(Lookup *l, const char *error) {
        Authz *a = l->a;

        g_hash_table_steal(a->lookups, l->sender);
        if (!l->gone) {
                if (l->caller) {
                        g_hash_table_replace(a->callers, g_strdup(l->sender), l->caller);
                        l->caller = NULL;
                }
                for (guint i = 0; i < l->held->len; i++) {
                        sd_bus_message *m = l->held->pdata[i];
                        int r = error ? sd_bus_reply_method_errorf(m, BUS_ERROR_ACCESS_DENIED,
                                                                   "cannot tell who is calling: %s", error)
                                      : sd_bus_enqueue_for_read(a->d->bus, m);
                        if (error)
                                bus_calls_finish(a->d->bus_calls, m, BUS_ERROR_ACCESS_DENIED);
                        if (r < 0)
                                g_warning("cannot %s a call of %s: %s", error ? "answer" : "dispatch", l->sender,
                                          g_strerror(-r));
                }
        }
        lookup_free(l);
}

static void lookup_work(void *data) {
        Lookup *l = data;
        l->caller = caller_new(l->uid);
}

static void lookup_done(void *data) {
        lookup_finish(data, NULL);
}

static int on_unix_user(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Lookup *l = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t uid;

        l->slot = sd_bus_slot_unref(l->slot);
        if (e) {
                lookup_finish(l, e->message ?: e->name);
                return 0;
        }
        if (sd_bus_message_read(reply, "u", &uid) < 0) {
                lookup_finish(l, "the bus sent a user id that does not parse");
                return 0;
        }
        l->uid = uid;
        if (uid == 0 || uid == geteuid()) {
                l->caller = caller_new(uid);    /* no NSS for these */
                lookup_finish(l, NULL);
        } else
                worker_submit(l->a->worker, lookup_work, lookup_done, l);
        return 0;
}

/* Before any method runs: a caller not seen yet is looked up without
 * blocking the loop (its uid from the bus driver, asynchronously; its
 * name and groups on a thread), its calls held meanwhile and dispatched
 * again afterwards, so handlers find it in a->callers. */
static int check_visible(Authz *a, sd_bus_message *m);

static int on_call(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Authz *a = userdata;
        const char *sender = sd_bus_message_get_sender(m);
        Lookup *l;
        int r;

        if (!sd_bus_message_is_method_call(m, NULL, NULL) || !sender || sender[0] != ':')
                return 0;
        if (g_hash_table_contains(a->callers, sender))
                return check_visible(a, m);
        l = g_hash_table_lookup(a->lookups, sender);
        if (l) {
                g_ptr_array_add(l->held, sd_bus_message_ref(m));
                return 1;
        }
        l = g_new0(Lookup, 1);
        l->a = a;
        l->sender = g_strdup(sender);
        l->held = g_ptr_array_new_with_free_func((GDestroyNotify) sd_bus_message_unref);
        r = sd_bus_call_method_async(a->d->bus, &l->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixUser", on_unix_user, l, "s", sender);
        if (r < 0) {
                lookup_free(l);
                bus_calls_finish(a->d->bus_calls, m, BUS_ERROR_ACCESS_DENIED);
                return sd_bus_reply_method_errorf(m, BUS_ERROR_ACCESS_DENIED, "cannot tell who is calling: %s",
                                                  g_strerror(-r)) < 0 ? 0 : 1;
        }
        g_ptr_array_add(l->held, sd_bus_message_ref(m));
        g_hash_table_insert(a->lookups, l->sender, l);
        return 1;       /* held: dispatched again when the lookup is over */
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Authz *a = userdata;
        const char *name, *old, *new;
        if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && name[0] == ':' && isempty(new)) {
                Lookup *l = g_hash_table_lookup(a->lookups, name);
                g_hash_table_remove(a->callers, name);
                if (l)
                        l->gone = true;         /* its calls are dropped: nobody to answer */
        }
        return 0;
}

int authz_new(Daemon *d, Authz **ret) {
        Authz *a = g_new0(Authz, 1);
        int r;

        a->d = d;
        a->answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
        a->callers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) caller_free);
        a->lookups = g_hash_table_new(g_str_hash, g_str_equal);
        r = worker_new(d->event, LOOKUP_THREADS, &a->worker);
        if (r >= 0)
                r = sd_bus_match_signal(d->bus, &a->owner_changed, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, a);
        /* added after the rate limit's, so it runs first (sd-bus runs the
         * filters last added first): held calls count against the caller's
         * rate once, when dispatched */
        if (r >= 0)
                r = sd_bus_add_filter(d->bus, &a->filter, on_call, a);
        if (r < 0) {
                authz_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

Authz *authz_free(Authz *a) {
        if (!a)
                return NULL;
        /* lookups on the thread end first; then every lookup is in the table */
        worker_free(a->worker);
        GHashTableIter it;
        Lookup *l;
        g_hash_table_iter_init(&it, a->lookups);
        while (g_hash_table_iter_next(&it, NULL, (void **) &l)) {
                g_hash_table_iter_steal(&it);
                lookup_free(l);
        }
        g_hash_table_unref(a->lookups);
        sd_bus_slot_unref(a->filter);
        sd_bus_slot_unref(a->owner_changed);
        if (a->polkit_bus && a->polkit_bus != a->d->bus)
                sd_bus_flush_close_unref(a->polkit_bus);
        g_hash_table_unref(a->answers);
        g_hash_table_unref(a->callers);
        g_free(a);
        return NULL;
}

static int caller_of(Authz *a, sd_bus_message *m, Caller **ret) {
        const char *sender = sd_bus_message_get_sender(m);
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        Caller *c;
        uid_t uid;
        int r;

        if (!a)
                return -ENOTCONN;
        c = sender ? g_hash_table_lookup(a->callers, sender) : NULL;
        if (c) {
                *ret = c;
                return 0;
        }
        /* Not looked up by on_call(): a direct connection (no sender; its
         * credentials are the socket's) or a call that bypassed the
         * filter.  Looked up here, synchronously. */
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        c = caller_new(uid);
        if (sender && sender[0] == ':')
                g_hash_table_replace(a->callers, g_strdup(sender), c);
        else {
                /* not cacheable (a direct connection): kept until the daemon ends */
                g_hash_table_replace(a->callers, g_strdup_printf("direct-%p", (void *) c), c);
        }
        *ret = c;
        return 0;
}

int authz_caller_uid(Authz *a, sd_bus_message *m, uid_t *ret) {
        Caller *c;
        int r = caller_of(a, m, &c);
        if (r < 0)
                return r;
        *ret = c->uid;
        return 0;
}

const char *authz_caller_name(Authz *a, sd_bus_message *m) {
        Caller *c;
        return caller_of(a, m, &c) < 0 ? NULL : c->user;
}

Role authz_role(Authz *a, sd_bus_message *m, const char *namespace) {
        Caller *c;
        if (caller_of(a, m, &c) < 0)
                return ROLE_NONE;
        if (c->privileged)
                return ROLE_ADMIN;
        if (!c->user)
                return ROLE_NONE;
        return rbac_role(a->d->model, namespace, c->user, (const char *const *) c->groups);
}

bool authz_can_see(Authz *a, sd_bus_message *m, const KindInfo *kind, const char *namespace, const char *name) {
        if (!m)
                return true;
        if (kind == &kind_namespace || kind == &kind_project)
                return authz_role(a, m, name) >= ROLE_VIEW;
        if (!kind->namespaced)
                return true;
        return authz_role(a, m, namespace) >= ROLE_VIEW;
}

/* The role that grants an action without polkit (ROLE_NONE: only polkit). */
static Role role_needed(const char *action, const char *kind) {
        if (streq(action, "object.apply") || streq(action, "object.delete"))
                return streq_ptr(kind, "RoleBinding") ? ROLE_ADMIN : ROLE_EDIT;
        if (streq(action, "namespace.manage"))
                return ROLE_ADMIN;
        if (streq(action, "object.read"))
                return ROLE_VIEW;
        if (streq(action, "secret.read") || streq(action, "vm.lifecycle") || streq(action, "vm.console") ||
            streq(action, "vm.hotplug") || streq(action, "datavolume.upload") || streq(action, "pvc.export") ||
            streq(action, "vmexport.download"))
                return ROLE_EDIT;
        return ROLE_NONE;
}

/* Answers older than their time are of calls that are long done. */
static void sweep(Authz *a) {
        GHashTableIter it;
        GHashTable *set;
        gint64 now = g_get_monotonic_time();

        g_hash_table_iter_init(&it, a->answers);
        while (g_hash_table_iter_next(&it, NULL, (void **) &set)) {
                GHashTableIter j;
                Answer *x;
                bool fresh = false;
                g_hash_table_iter_init(&j, set);
                while (g_hash_table_iter_next(&j, NULL, (void **) &x))
                        fresh = fresh || x->state == ANSWER_PENDING || now - x->at < ANSWER_TTL_USEC;
                if (!fresh)
                        g_hash_table_iter_remove(&it);
        }
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Query *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0;

        q->answer->at = g_get_monotonic_time();
        if (e) {
                q->answer->state = ANSWER_ERROR;
                q->answer->error = g_strdup_printf("polkit could not be asked: %s", e->message ? e->message : e->name);
        } else if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
                   sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0) {
                q->answer->state = ANSWER_ERROR;
                q->answer->error = g_strdup("polkit sent an answer that does not parse");
        } else
                q->answer->state = authorized ? ANSWER_YES : challenge ? ANSWER_CHALLENGE : ANSWER_NO;
        /* the call again, now with its answer */
        int r = sd_bus_enqueue_for_read(q->a->d->bus, q->m);
        if (r < 0)
                g_warning("cannot dispatch a call again after polkit answered: %s", g_strerror(-r));
        sd_bus_message_unref(q->m);
        g_free(q);
        return 0;
}

static int polkit_bus(Authz *a, sd_bus **ret) {
        int r;
        if (!a->polkit_bus) {
                if (a->d->system_bus)
                        a->polkit_bus = a->d->bus;
                else {
                        r = sd_bus_open_system(&a->polkit_bus);
                        if (r < 0)
                                return r;
                        r = sd_bus_attach_event(a->polkit_bus, a->d->event, SD_EVENT_PRIORITY_NORMAL);
                        if (r < 0) {
                                a->polkit_bus = sd_bus_flush_close_unref(a->polkit_bus);
                                return r;
                        }
                }
        }
        *ret = a->polkit_bus;
        return 0;
}

/* The caller as polkit knows it: its bus name when polkit shares our bus,
 * else its process (pid, start time, uid). */
static int append_subject(Authz *a, sd_bus_message *call, sd_bus_message *m) {
        int r;

        if (a->d->system_bus)
                return sd_bus_message_append(call, "(sa{sv})", "system-bus-name", 1, "name", "s",
                                             sd_bus_message_get_sender(m));

        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        pid_t pid;
        uid_t uid;
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_PID | SD_BUS_CREDS_EUID, &creds);
        if (r < 0 || (r = sd_bus_creds_get_pid(creds, &pid)) < 0 || (r = sd_bus_creds_get_euid(creds, &uid)) < 0)
                return r;
        /* field 22 of /proc/PID/stat: the start time in clock ticks */
        g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid), *stat = NULL;
        uint64_t start = 0;
        if (g_file_get_contents(path, &stat, NULL, NULL)) {
                char *p = strrchr(stat, ')');
                g_auto(GStrv) f = p ? g_strsplit(p + 2, " ", 0) : NULL;
                if (f && g_strv_length(f) > 19)
                        start = g_ascii_strtoull(f[19], NULL, 10);
        }
        return sd_bus_message_append(call, "(sa{sv})", "unix-process", 3, "pid", "u", (uint32_t) pid, "start-time", "t",
                                     start, "uid", "i", (int32_t) uid);
}

static int ask(Authz *a, sd_bus_message *m, const char *action, const char *const details[][2], bool interactive,
               Answer *answer) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus;
        g_autofree char *id = g_strconcat(ACTION_PREFIX, action, NULL);
        int r;

        if ((r = polkit_bus(a, &bus)) < 0 ||
            (r = sd_bus_message_new_method_call(bus, &call, POLKIT_NAME, POLKIT_PATH, POLKIT_INTERFACE,
                                                "CheckAuthorization")) < 0 ||
            (r = append_subject(a, call, m)) < 0 || (r = sd_bus_message_append(call, "s", id)) < 0 ||
            (r = sd_bus_message_open_container(call, 'a', "{ss}")) < 0)
                return r;
        for (size_t i = 0; details[i][0]; i++)
                if (details[i][1] && (r = sd_bus_message_append(call, "{ss}", details[i][0], details[i][1])) < 0)
                        return r;
        if ((r = sd_bus_message_close_container(call)) < 0 ||
            (r = sd_bus_message_append(call, "us", (uint32_t) (interactive ? 1 : 0), "")) < 0)
                return r;
        Query *q = g_new0(Query, 1);
        q->a = a;
        q->m = sd_bus_message_ref(m);
        q->answer = answer;
        r = sd_bus_call_async(bus, NULL, call, on_polkit_reply, q, interactive ? INTERACTIVE_TIMEOUT_USEC : 0);
        if (r < 0) {
                sd_bus_message_unref(q->m);
                g_free(q);
        }
        return r;
}

bool authz_privileged(Authz *a, sd_bus_message *m) {
        Caller *c;
        return caller_of(a, m, &c) >= 0 && c->privileged;
}

/* A refusal is an event of the namespace it concerns (its admins read it
 * there): who, which action, on what kind — never a document, and not the
 * name, so that a caller's refusals coalesce into one event however many
 * names it tries (and cannot push the namespace's other events out). */
static void record_denial(Authz *a, uid_t uid, const char *id, const char *namespace, const char *kind,
                          const char *why) {
        Object *ns = NULL;

        if (isempty(namespace) || model_get(a->d->model, &kind_namespace, "", namespace, &ns, NULL) < 0)
                return;
        event_record(model_services(a->d->model)->events, ns, true, "AccessDenied",
                     "uid %u was refused %s%s%s%s%s%s", (unsigned) uid, id, kind ? " on a " : "", kind ?: "",
                     why ? " (" : "", why ?: "", why ? ")" : "");
}

/* interactive: polkit may ask the user (if the caller allowed it). */
static int check(Authz *a, sd_bus_message *m, const char *action, const char *namespace, const char *kind,
                 const char *name, bool interactive, sd_bus_error *error) {
        uid_t uid;
        int r;

        if (!a)
                return sd_bus_error_set(error, BUS_ERROR_ACCESS_DENIED, "no authorization service");
        r = authz_caller_uid(a, m, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "cannot tell who is calling: %s", g_strerror(-r));
        if (uid == 0 || uid == geteuid())
                return 1;
        /* a role in the namespace grants what it covers */
        Role need = role_needed(action, kind);
        if (need != ROLE_NONE && !isempty(namespace) && authz_role(a, m, namespace) >= need)
                return 1;

        uint64_t cookie = 0;
        (void) sd_bus_message_get_cookie(m, &cookie);
        g_autofree char *key = g_strdup_printf("%s/%" G_GUINT64_FORMAT, sd_bus_message_get_sender(m) ?: "", cookie);
        g_autofree char *what = g_strdup_printf("%s\n%s\n%s\n%s%s", action, namespace ?: "", kind ?: "", name ?: "",
                                               interactive ? "" : "\nnon-interactive");
        GHashTable *set = g_hash_table_lookup(a->answers, key);
        Answer *x = set ? g_hash_table_lookup(set, what) : NULL;
        g_autofree char *id = g_strconcat(ACTION_PREFIX, action, NULL);

        if (x) {
                switch (x->state) {
                case ANSWER_PENDING:
                        return 0;
                case ANSWER_YES:
                        return 1;
                case ANSWER_CHALLENGE:
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                                 "%s needs authentication: "
                                                 "call again allowing interactive authorization", id);
                case ANSWER_ERROR:
                        record_denial(a, uid, id, namespace, kind, x->error);
                        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "%s: %s", id, x->error);
                case ANSWER_NO:
                        break;
                }
                record_denial(a, uid, id, namespace, kind, NULL);
                if (namespace && *namespace && kind)
                        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                                 "not authorized: %s in namespace %s (%s%s%s)", id,
                                                 namespace, kind, name ? " " : "", name ?: "");
                if (namespace && *namespace)
                        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "not authorized: %s in namespace %s",
                                                 id, namespace);
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "not authorized: %s%s%s", id, name ? " " : "",
                                         name ?: "");
        }

        sweep(a);
        if (!set) {
                set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) answer_free);
                g_hash_table_insert(a->answers, g_strdup(key), set);
        }
        x = g_new0(Answer, 1);
        x->at = g_get_monotonic_time();
        g_hash_table_insert(set, g_strdup(what), x);
        const char *verb = sd_bus_message_get_member(m);
        const char *const details[][2] = {
                { "namespace", namespace }, { "kind", kind }, { "name", name }, { "verb", verb }, { NULL, NULL },
        };
        r = ask(a, m, action, details, interactive && sd_bus_message_get_allow_interactive_authorization(m) > 0, x);
        if (r < 0) {
                x->state = ANSWER_ERROR;
                x->error = g_strdup_printf("polkit could not be asked: %s", g_strerror(-r));
                record_denial(a, uid, id, namespace, kind, x->error);
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "%s: %s", id, x->error);
        }
        return 0;
}

int authz_check(Authz *a, sd_bus_message *m, const char *action, const char *namespace, const char *kind,
                const char *name, sd_bus_error *error) {
        int r = check(a, m, action, namespace, kind, name, true, error);
        if (r == 0)
                bus_calls_defer(a->d->bus_calls, m);    /* polkit asked: the call comes again */
        return r;
}

/* A method of an object (its typed interface or the Object interface; not
 * Properties, Introspectable or ObjectManager, which the object lookup
 * answers: object-dbus.c) reaches its handler only when the caller may see
 * the object: a role in its namespace, or polkit's object.read without
 * asking anyone (a password dialog would tell the object is there).
 * Otherwise the call is answered exactly as for a path with no object.
 * 1: answered, or held until polkit answers; 0: go on. */
static int check_visible(Authz *a, sd_bus_message *m) {
        const char *path = sd_bus_message_get_path(m), *iface = sd_bus_message_get_interface(m);
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Object *o;
        int r;

        if (!path || !g_str_has_prefix(path, BUS_OBJECT_ROOT "/") ||
            (iface && g_str_has_prefix(iface, "org.freedesktop.DBus.")))
                return 0;
        o = object_path_find(a->d->model, path);
        if (!o || authz_can_see(a, m, o->kind, o->namespace, o->name))
                return 0;
        r = check(a, m, "object.read", o->kind == &kind_namespace ? o->name : o->namespace, o->kind->kind, o->name,
                  false, &error);
        if (r > 0)
                return 0;
        if (r == 0)
                return 1;       /* dispatched again when polkit answers */
        bus_calls_finish(a->d->bus_calls, m, SD_BUS_ERROR_UNKNOWN_OBJECT);
        r = sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_OBJECT, "Unknown object '%s'.", path);
        if (r < 0)
                g_warning("cannot answer a call of %s: %s", sd_bus_message_get_sender(m) ?: "?", g_strerror(-r));
        return 1;
}
