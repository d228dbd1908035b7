/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The phases of claims and DataVolumes as pvc.c and datavolume.c decide
 * them: a claim's next step (pvc_next_step) and what an operation or a scan
 * makes of it; a DataVolume's next step and the phase it shows, and what an
 * importer's end makes of it. */
#include <errno.h>

#include "datavolume.h"
#include "pvc.h"
#include "util.h"

#define GiB (1ULL << 30)

static const char *claim_step_name(ClaimStep s) {
        static const char *const names[] = { "nothing", "let-go", "class-not-found", "class-not-ready", "provision",
                                             "expand" };
        return names[s];
}

static void test_claim_steps(void) {
        static const struct {
                const char *name;
                ClaimFacts facts;
                ClaimStep want;
        } cases[] = {
                { "a new claim is provisioned", { .phase = "Pending", .class_known = true, .class_ready = true,
                                                  .requested = GiB }, CLAIM_PROVISION },
                { "a bound claim stays", { .phase = "Bound", .class_known = true, .class_ready = true,
                                           .requested = GiB, .capacity = GiB }, CLAIM_NOTHING },
                { "a bound claim asking for more grows", { .phase = "Bound", .class_known = true,
                                                           .class_ready = true, .requested = 2 * GiB,
                                                           .capacity = GiB }, CLAIM_EXPAND },
                { "a bound claim never shrinks", { .phase = "Bound", .class_known = true, .class_ready = true,
                                                   .requested = GiB, .capacity = 2 * GiB }, CLAIM_NOTHING },
                { "a lost claim stays lost", { .phase = "Lost", .class_known = true, .class_ready = true,
                                               .requested = GiB }, CLAIM_NOTHING },
                { "no class: Pending", { .phase = "Pending", .requested = GiB }, CLAIM_CLASS_NOT_FOUND },
                { "no class, but bound: stays", { .phase = "Bound", .requested = GiB, .capacity = GiB },
                  CLAIM_NOTHING },
                { "a class that failed: Pending", { .phase = "Pending", .class_known = true, .requested = GiB },
                  CLAIM_CLASS_NOT_READY },
                { "a class that failed, bound: stays", { .phase = "Bound", .class_known = true, .requested = GiB,
                                                         .capacity = GiB }, CLAIM_NOTHING },
                { "busy: waits", { .phase = "Pending", .busy = true, .class_known = true, .class_ready = true,
                                   .requested = GiB }, CLAIM_NOTHING },
                { "deleted and unused: lets go", { .phase = "Bound", .deleting = true, .protected = true,
                                                   .class_known = true, .class_ready = true }, CLAIM_LET_GO },
                { "deleted, in use: kept", { .phase = "Bound", .deleting = true, .protected = true,
                                             .in_use = true, .class_known = true, .class_ready = true },
                  CLAIM_NOTHING },
                { "deleted without the finalizer: nothing to drop", { .phase = "Bound", .deleting = true },
                  CLAIM_NOTHING },
                { "deleted while busy: lets go all the same", { .phase = "Pending", .deleting = true,
                                                                .protected = true, .busy = true }, CLAIM_LET_GO },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_test_message("%s", cases[i].name);
                g_assert_cmpstr(claim_step_name(pvc_next_step(&cases[i].facts)), ==, claim_step_name(cases[i].want));
        }
}

static void test_claim_outcomes(void) {
        ClaimOutcome o;

        o = pvc_operation_outcome(false, 0);
        g_assert_cmpstr(o.phase, ==, "Bound");
        g_assert_true(o.bind);
        g_assert_false(o.retry);
        o = pvc_operation_outcome(true, 0);
        g_assert_cmpstr(o.phase, ==, "Bound");
        g_assert_false(o.bind);                 /* grown: it was bound already */
        o = pvc_operation_outcome(false, -ENOSPC);
        g_assert_cmpstr(o.phase, ==, "Pending");
        g_assert_cmpstr(o.reason, ==, "NotEnoughSpace");
        g_assert_true(o.retry);
        o = pvc_operation_outcome(false, -EIO);
        g_assert_cmpstr(o.phase, ==, "Pending");
        g_assert_cmpstr(o.reason, ==, "ProvisioningFailed");
        g_assert_true(o.retry);
        o = pvc_operation_outcome(true, -EIO);
        g_assert_null(o.phase);                 /* a failed expansion leaves it Bound, and tries again */
        g_assert_null(o.reason);
        g_assert_true(o.retry);

        o = pvc_scan_outcome("Pending", false, true);
        g_assert_cmpstr(o.phase, ==, "Bound");  /* its volume is adopted */
        g_assert_true(o.bind);
        o = pvc_scan_outcome("Pending", true, true);
        g_assert_null(o.phase);
        o = pvc_scan_outcome("Bound", false, true);
        g_assert_null(o.phase);
        o = pvc_scan_outcome("Bound", false, false);
        g_assert_cmpstr(o.phase, ==, "Lost");
        g_assert_cmpstr(o.reason, ==, "VolumeMissing");
        o = pvc_scan_outcome("Pending", false, false);
        g_assert_null(o.phase);
}

static void test_datavolume_steps(void) {
        static const struct {
                const char *name;
                DvFacts facts;
                DvStep want;
                const char *phase;
        } cases[] = {
                { "first, its claim", { .source = "http" }, DV_STEP_MAKE_CLAIM, "Pending" },
                { "a claim of its name not its own", { .source = "http", .claim = true, .claim_phase = "Bound" },
                  DV_STEP_NOT_OWNED, "Pending" },
                { "an import waits for its claim", { .source = "http", .claim = true, .claim_owned = true,
                                                     .claim_phase = "Pending" }, DV_STEP_CLAIM_PENDING, "Pending" },
                { "a clone waits for its claim", { .source = "pvc", .claim = true, .claim_owned = true,
                                                   .claim_phase = "Pending" }, DV_STEP_CLAIM_PENDING,
                  "CloneScheduled" },
                { "a snapshot's clone too", { .source = "snapshot", .claim = true, .claim_owned = true },
                  DV_STEP_CLAIM_PENDING, "CloneScheduled" },
                { "blank is done when bound", { .source = "blank", .claim = true, .claim_owned = true,
                                                .claim_phase = "Bound" }, DV_STEP_DONE, "Succeeded" },
                { "a clone is done when bound", { .source = "pvc", .claim = true, .claim_owned = true,
                                                  .claim_phase = "Bound" }, DV_STEP_DONE, "Succeeded" },
                { "an import is scheduled", { .source = "http", .claim = true, .claim_owned = true,
                                              .claim_phase = "Bound" }, DV_STEP_IMPORT, "ImportScheduled" },
                { "registry imports too", { .source = "registry", .claim = true, .claim_owned = true,
                                            .claim_phase = "Bound" }, DV_STEP_IMPORT, "ImportScheduled" },
                { "a failed import backs off", { .source = "http", .phase = "ImportScheduled", .claim = true,
                                                 .claim_owned = true, .claim_phase = "Bound",
                                                 .backing_off = true }, DV_STEP_BACK_OFF, NULL },
                { "a running import is left alone", { .source = "http", .phase = "ImportInProgress",
                                                      .importing = true, .claim = true, .claim_owned = true,
                                                      .claim_phase = "Bound" }, DV_STEP_WAIT, NULL },
                { "an upload waits for data", { .source = "upload", .claim = true, .claim_owned = true,
                                                .claim_phase = "Bound" }, DV_STEP_UPLOAD_READY, "UploadReady" },
                { "an upload with data is scheduled", { .source = "upload", .phase = "UploadReady", .claim = true,
                                                        .claim_owned = true, .claim_phase = "Bound",
                                                        .upload_waiting = true }, DV_STEP_UPLOAD,
                  "UploadScheduled" },
                { "done stays done", { .source = "http", .phase = "Succeeded", .claim = true, .claim_owned = true,
                                       .claim_phase = "Bound" }, DV_STEP_WAIT, NULL },
                { "failed stays failed", { .source = "http", .phase = "Failed", .claim = true,
                                           .claim_owned = true, .claim_phase = "Bound" }, DV_STEP_WAIT, NULL },
                { "done, its claim deleted: made again", { .source = "http", .phase = "Succeeded" },
                  DV_STEP_RECLAIM, "Pending" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                DvStep step = datavolume_next_step(&cases[i].facts);
                g_test_message("%s", cases[i].name);
                g_assert_cmpint(step, ==, cases[i].want);
                g_assert_cmpstr(datavolume_step_phase(step, cases[i].facts.source), ==, cases[i].phase);
        }
}

static void test_import_outcomes(void) {
        DvOutcome o;

        o = datavolume_import_outcome(0, false, 3);
        g_assert_cmpstr(o.phase, ==, "Succeeded");
        g_assert_cmpstr(o.reason, ==, "Completed");
        g_assert_false(o.restart);
        g_assert_cmpuint(o.backoff, ==, 0);
        o = datavolume_import_outcome(0, true, 0);
        g_assert_cmpstr(o.phase, ==, "Succeeded");
        o = datavolume_import_outcome(1, true, 0);
        g_assert_cmpstr(o.phase, ==, "UploadReady");    /* the client may send again */
        g_assert_cmpstr(o.reason, ==, "UploadFailed");
        g_assert_true(o.restart);
        g_assert_cmpuint(o.backoff, ==, 0);
        o = datavolume_import_outcome(1, false, 0);
        g_assert_cmpstr(o.phase, ==, "Failed");
        g_assert_cmpstr(o.reason, ==, "ImportFailed");
        g_assert_false(o.restart);
        o = datavolume_import_outcome(2, false, 0);
        g_assert_cmpstr(o.phase, ==, "ImportScheduled");
        g_assert_cmpstr(o.reason, ==, "ImportFailed");
        g_assert_true(o.restart);
        g_assert_cmpuint(o.backoff, ==, 1);
        o = datavolume_import_outcome(2, false, 3);
        g_assert_cmpuint(o.backoff, ==, 8);
        o = datavolume_import_outcome(-1, false, 5);    /* it crashed */
        g_assert_cmpstr(o.phase, ==, "ImportScheduled");
        g_assert_cmpuint(o.backoff, ==, 32);
        o = datavolume_import_outcome(2, false, 40);
        g_assert_cmpuint(o.backoff, ==, 256);
        o = datavolume_import_outcome(2, false, 9);
        g_assert_cmpuint(o.backoff, ==, 256);           /* 2^8 at most, under 5 minutes */

        g_assert_cmpstr(datavolume_pod_phase("Succeeded", false), ==, "Succeeded");
        g_assert_cmpstr(datavolume_pod_phase("Failed", false), ==, "Failed");
        g_assert_cmpstr(datavolume_pod_phase("ImportInProgress", true), ==, "Running");
        g_assert_cmpstr(datavolume_pod_phase("ImportScheduled", false), ==, "Pending");
        g_assert_cmpstr(datavolume_pod_phase("UploadReady", false), ==, "Pending");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/claim-rules/claim-steps", test_claim_steps);
        g_test_add_func("/claim-rules/claim-outcomes", test_claim_outcomes);
        g_test_add_func("/claim-rules/datavolume-steps", test_datavolume_steps);
        g_test_add_func("/claim-rules/import-outcomes", test_import_outcomes);
        return g_test_run();
}
