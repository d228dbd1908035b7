/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The importer's slots: caps, and who goes next when one frees. */
#include "import-slots.h"

typedef struct Log {
        GPtrArray *granted;             /* names, in the order they got a slot */
} Log;

typedef struct Req {
        Log *log;
        const char *name;
        ImportTicket *t;
} Req;

static void on_grant(ImportTicket *t, void *userdata) {
        Req *r = userdata;
        g_ptr_array_add(r->log->granted, (gpointer) r->name);
}

static void request(ImportSlots *s, Req *r, Log *log, const char *ns, const char *name) {
        *r = (Req) { log, name, NULL };
        r->t = import_slots_request(s, ns, on_grant, r);
}

static const char *last(Log *log) {
        return log->granted->len ? log->granted->pdata[log->granted->len - 1] : NULL;
}

static void test_caps(void) {
        ImportSlots *s = import_slots_new(3, 2);
        Log log = { g_ptr_array_new() };
        Req r[5];

        request(s, &r[0], &log, "a", "a0");
        request(s, &r[1], &log, "a", "a1");
        request(s, &r[2], &log, "a", "a2");     /* a has 2: waits though one slot is free */
        g_assert_true(import_ticket_granted(r[0].t) && import_ticket_granted(r[1].t));
        g_assert_false(import_ticket_granted(r[2].t));
        g_assert_cmpuint(import_slots_running(s, NULL), ==, 2);
        g_assert_cmpuint(import_slots_waiting(s, "a"), ==, 1);
        request(s, &r[3], &log, "b", "b0");     /* the free slot: b's */
        g_assert_true(import_ticket_granted(r[3].t));
        request(s, &r[4], &log, "c", "c0");     /* all 3 in use */
        g_assert_false(import_ticket_granted(r[4].t));
        g_assert_cmpuint(import_slots_running(s, NULL), ==, 3);
        /* a0 ends: c (none running) before a (one running) */
        import_ticket_free(r[0].t);
        g_assert_cmpstr(last(&log), ==, "c0");
        g_assert_false(import_ticket_granted(r[2].t));
        import_ticket_free(r[3].t);
        g_assert_cmpstr(last(&log), ==, "a2");
        /* leaving the queue or giving a slot back: nothing left over */
        import_ticket_free(r[1].t);
        import_ticket_free(r[2].t);
        import_ticket_free(r[4].t);
        g_assert_cmpuint(import_slots_running(s, NULL), ==, 0);
        g_assert_cmpuint(import_slots_waiting(s, NULL), ==, 0);
        g_ptr_array_unref(log.granted);
        import_slots_free(s);
}

/* A namespace with many queued imports and one with a single import, one
 * slot: they alternate; the single one does not wait for the whole queue. */
static void test_round_robin(void) {
        ImportSlots *s = import_slots_new(1, 0);
        Log log = { g_ptr_array_new() };
        Req r[6];
        const char *want[] = { "a0", "b0", "c0", "a1", "b1", "a2" };

        request(s, &r[0], &log, "a", "a0");
        request(s, &r[1], &log, "a", "a1");
        request(s, &r[2], &log, "a", "a2");
        request(s, &r[3], &log, "b", "b0");
        request(s, &r[4], &log, "c", "c0");
        request(s, &r[5], &log, "b", "b1");
        for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
                g_assert_cmpuint(log.granted->len, ==, i + 1);
                g_assert_cmpstr(last(&log), ==, want[i]);
                for (guint k = 0; k < G_N_ELEMENTS(r); k++)
                        if (g_str_equal(r[k].name, want[i]) && r[k].t)
                                import_ticket_free(r[k].t);
        }
        g_assert_cmpuint(import_slots_running(s, NULL), ==, 0);
        g_ptr_array_unref(log.granted);
        import_slots_free(s);
}

/* A callback that frees its own ticket at once (its start failed) hands the
 * slot on without recursion troubles. */
static void give_back(ImportTicket *t, void *userdata) {
        Req *r = userdata;
        g_ptr_array_add(r->log->granted, (gpointer) r->name);
        import_ticket_free(t);
}

static void test_reentrant(void) {
        ImportSlots *s = import_slots_new(1, 1);
        Log log = { g_ptr_array_new() };
        Req a, b, c;

        request(s, &a, &log, "a", "a0");
        b = (Req) { &log, "b0", NULL };
        import_slots_request(s, "b", give_back, &b);
        c = (Req) { &log, "c0", NULL };
        c.t = import_slots_request(s, "c", on_grant, &c);
        import_ticket_free(a.t);
        g_assert_cmpuint(log.granted->len, ==, 3);
        g_assert_cmpstr(log.granted->pdata[1], ==, "b0");
        g_assert_cmpstr(log.granted->pdata[2], ==, "c0");
        g_assert_cmpuint(import_slots_running(s, NULL), ==, 1);
        import_ticket_free(c.t);
        g_ptr_array_unref(log.granted);
        import_slots_free(s);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/import-slots/caps", test_caps);
        g_test_add_func("/import-slots/round-robin", test_round_robin);
        g_test_add_func("/import-slots/reentrant", test_reentrant);
        return g_test_run();
}
