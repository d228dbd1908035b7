/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real model on a state directory of its own, for unit tests that
 * Apply documents and look at the objects (g_test_add fixtures). */
#pragma once

#include "model.h"

typedef struct Fixture {
        sd_event *event;
        char *dir;
        Model *model;
} Fixture;

static inline void fixture_apply(Fixture *f, const char *text) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) paths = NULL;
        g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
        ApplyOptions opts = { 0 };
        g_assert_cmpint(model_apply(f->model, text, strlen(text), &opts, &paths, warnings, &e), ==, 0);
        g_assert_no_error(e);
}

static inline void fixture_setup(Fixture *f) {
        g_autoptr(GError) e = NULL;
        ModelLimits limits = { .max_document_size = 1 << 20, .max_objects_per_apply = 100,
                               .max_objects_per_namespace = 1000 };
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        f->dir = g_dir_make_tmp("edgevirt-model-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        g_autofree char *state = g_build_filename(f->dir, "state", NULL);
        g_assert_cmpint(model_new(f->event, state, &limits, &f->model, &e), ==, 0);
        g_assert_no_error(e);
}

static inline void fixture_teardown(Fixture *f, gconstpointer data) {
        model_free(f->model);
        sd_event_unref(f->event);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
}
