/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* KubeVirt's run strategies as vm.c decides them (vm_run_decide,
 * vm_run_printable, vm_run_ready): given what is known of a VM and its
 * instance, what to do with the instance and what the VM shows. */
#include "util.h"
#include "vm.h"

#define UID "0f1e2d3c-instance"

typedef struct Case {
        const char *name;
        VmRunFacts facts;
        VmRunDecision want;
} Case;

static const char *action_name(VmRunAction a) {
        static const char *const names[] = { "nothing", "create", "delete", "stop" };
        return names[a];
}

static void check(const Case *c) {
        VmRunDecision d = vm_run_decide(&c->facts);
        g_test_message("%s", c->name);
        g_assert_cmpstr(action_name(d.action), ==, action_name(c->want.action));
        g_assert_cmpint(d.request_done, ==, c->want.request_done);
        g_assert_cmpint(d.count_failure, ==, c->want.count_failure);
        g_assert_cmpint(d.wait_backoff, ==, c->want.wait_backoff);
}

static void test_strategies(void) {
        static const Case cases[] = {
                { "Always makes an instance", { .strategy = "Always" }, { VM_RUN_CREATE } },
                { "Always keeps a running one", { .strategy = "Always", .instance_uid = UID,
                                                  .instance_phase = "Running" }, { VM_RUN_NOTHING } },
                { "Always replaces one that succeeded", { .strategy = "Always", .instance_uid = UID,
                                                          .instance_phase = "Succeeded" }, { VM_RUN_DELETE } },
                { "Always replaces one that failed, counting it", { .strategy = "Always", .instance_uid = UID,
                                                                    .instance_phase = "Failed" },
                  { VM_RUN_DELETE, .count_failure = true } },
                { "Always waits for a finished one being deleted", { .strategy = "Always", .instance_uid = UID,
                                                                     .instance_phase = "Failed",
                                                                     .instance_deleting = true },
                  { VM_RUN_NOTHING, .count_failure = true } },
                { "RerunOnFailure leaves one that succeeded", { .strategy = "RerunOnFailure", .instance_uid = UID,
                                                                .instance_phase = "Succeeded" },
                  { VM_RUN_NOTHING } },
                { "RerunOnFailure replaces one that failed", { .strategy = "RerunOnFailure", .instance_uid = UID,
                                                               .instance_phase = "Failed" },
                  { VM_RUN_DELETE, .count_failure = true } },
                { "RerunOnFailure makes an instance", { .strategy = "RerunOnFailure" }, { VM_RUN_CREATE } },
                { "Manual makes none by itself", { .strategy = "Manual" }, { VM_RUN_NOTHING } },
                { "Manual leaves a finished one", { .strategy = "Manual", .instance_uid = UID,
                                                    .instance_phase = "Failed" }, { VM_RUN_NOTHING } },
                { "Halted deletes a running one", { .strategy = "Halted", .instance_uid = UID,
                                                    .instance_phase = "Running" }, { VM_RUN_DELETE } },
                { "Halted waits for one being deleted", { .strategy = "Halted", .instance_uid = UID,
                                                          .instance_phase = "Running", .instance_deleting = true },
                  { VM_RUN_NOTHING } },
                { "Halted without one does nothing", { .strategy = "Halted" }, { VM_RUN_NOTHING } },
                { "Once runs one", { .strategy = "Once" }, { VM_RUN_CREATE } },
                { "Once runs one only", { .strategy = "Once", .created = true }, { VM_RUN_NOTHING } },
                { "Once does not retry a failure", { .strategy = "Once", .start_failure = true },
                  { VM_RUN_NOTHING } },
                { "Once leaves a finished one", { .strategy = "Once", .created = true, .instance_uid = UID,
                                                  .instance_phase = "Succeeded" }, { VM_RUN_NOTHING } },
                { "no start while a restore runs", { .strategy = "Always", .restoring = true },
                  { VM_RUN_NOTHING } },
                { "no start while backing off", { .strategy = "Always", .backing_off = true },
                  { VM_RUN_NOTHING, .wait_backoff = true } },
                { "a restore wins over the back-off", { .strategy = "Always", .restoring = true,
                                                        .backing_off = true }, { VM_RUN_NOTHING } },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                check(&cases[i]);
}

static void test_requests(void) {
        static const Case cases[] = {
                { "Stop under Manual deletes", { .strategy = "Manual", .request = "Stop", .instance_uid = UID,
                                                 .instance_phase = "Running" },
                  { VM_RUN_DELETE, .request_done = true } },
                { "Stop under RerunOnFailure powers off", { .strategy = "RerunOnFailure", .request = "Stop",
                                                           .instance_uid = UID, .instance_phase = "Running" },
                  { VM_RUN_STOP, .request_done = true } },
                { "Stop of a stopping one waits for it", { .strategy = "RerunOnFailure", .request = "Stop",
                                                          .instance_uid = UID, .instance_phase = "Running",
                                                          .instance_stopping = true },
                  { VM_RUN_NOTHING, .request_done = true } },
                { "Stop of a finished one deletes it", { .strategy = "RerunOnFailure", .request = "Stop",
                                                         .instance_uid = UID, .instance_phase = "Succeeded" },
                  { VM_RUN_DELETE, .request_done = true } },
                { "a restart's Stop deletes", { .strategy = "RerunOnFailure", .request = "Stop",
                                                .more_requests = true, .instance_uid = UID,
                                                .instance_phase = "Running" },
                  { VM_RUN_DELETE, .request_done = true } },
                { "Stop for another instance is done", { .strategy = "Manual", .request = "Stop",
                                                         .request_uid = "an-older-one", .instance_uid = UID,
                                                         .instance_phase = "Running" },
                  { VM_RUN_NOTHING, .request_done = true } },
                { "Stop for this instance", { .strategy = "Manual", .request = "Stop", .request_uid = UID,
                                              .instance_uid = UID, .instance_phase = "Running" },
                  { VM_RUN_DELETE, .request_done = true } },
                { "Stop without an instance is done", { .strategy = "Manual", .request = "Stop" },
                  { VM_RUN_NOTHING, .request_done = true } },
                { "Stop of one being deleted is done", { .strategy = "Manual", .request = "Stop",
                                                         .instance_uid = UID, .instance_phase = "Running",
                                                         .instance_deleting = true },
                  { VM_RUN_NOTHING, .request_done = true } },
                { "Start makes an instance", { .strategy = "Manual", .request = "Start" },
                  { VM_RUN_CREATE, .request_done = true } },
                { "Start first deletes a finished one", { .strategy = "Manual", .request = "Start",
                                                          .instance_uid = UID, .instance_phase = "Succeeded" },
                  { VM_RUN_DELETE } },
                { "Start waits for a running one to go", { .strategy = "Manual", .request = "Start",
                                                           .instance_uid = UID, .instance_phase = "Running" },
                  { VM_RUN_NOTHING } },
                { "Start waits for a finished one being deleted", { .strategy = "Manual", .request = "Start",
                                                                    .instance_uid = UID,
                                                                    .instance_phase = "Failed",
                                                                    .instance_deleting = true },
                  { VM_RUN_NOTHING } },
                { "Start while backing off is taken, the start waits", { .strategy = "Manual", .request = "Start",
                                                                         .backing_off = true },
                  { VM_RUN_NOTHING, .request_done = true, .wait_backoff = true } },
                { "requests come before the strategy", { .strategy = "Halted", .request = "Start" },
                  { VM_RUN_CREATE, .request_done = true } },
                { "an unknown request is dropped", { .strategy = "Always", .request = "Migrate" },
                  { VM_RUN_NOTHING, .request_done = true } },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                check(&cases[i]);
}

static void test_printable(void) {
        static const struct {
                VmRunFacts facts;
                const char *printable;
                bool ready;
        } cases[] = {
                { { .strategy = "Always", .deleting = true, .instance_uid = UID, .instance_phase = "Running" },
                  "Terminating", true },
                { { .strategy = "Halted" }, "Stopped", false },
                { { .strategy = "Always", .backing_off = true }, "CrashLoopBackOff", false },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Running" }, "Running", true },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Running", .instance_paused = true },
                  "Paused", false },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Running",
                    .instance_stopping = true }, "Stopping", false },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Failed", .backing_off = true },
                  "CrashLoopBackOff", false },
                { { .strategy = "Manual", .instance_uid = UID, .instance_phase = "Succeeded" }, "Stopped", false },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Pending",
                    .instance_waiting = "ErrorPvcNotFound" }, "ErrorPvcNotFound", false },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Scheduling" }, "Starting", false },
                { { .strategy = "Always", .instance_uid = UID, .instance_phase = "Scheduled" }, "Starting", false },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_assert_cmpstr(vm_run_printable(&cases[i].facts), ==, cases[i].printable);
                g_assert_cmpint(vm_run_ready(&cases[i].facts), ==, cases[i].ready);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/vm-rules/strategies", test_strategies);
        g_test_add_func("/vm-rules/requests", test_requests);
        g_test_add_func("/vm-rules/printable", test_printable);
        return g_test_run();
}
