/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <glib.h>

/* The object store: one SQLite database in the state directory, one row per
 * object holding its JSON document beside its identifying columns.  Every
 * change the daemon acknowledges is one committed transaction (WAL,
 * synchronous=FULL), so a SIGKILL loses nothing that was acknowledged. */
typedef struct Store Store;

typedef struct StoreRow {
        const char *uid;
        const char *group;      /* API group, "" for core */
        const char *kind;
        const char *namespace;  /* "" for cluster-scoped kinds */
        const char *name;
        uint64_t resource_version;
        const char *document;   /* JSON */
} StoreRow;

int store_open(const char *path, Store **ret, GError **error);
Store *store_free(Store *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_free)

typedef int (*StoreLoadFunc)(const StoreRow *row, void *userdata);
int store_load(Store *s, StoreLoadFunc f, void *userdata, GError **error);

int store_begin(Store *s, GError **error);
int store_commit(Store *s, GError **error);
void store_rollback(Store *s);

/* The cluster-wide resourceVersion counter: the next value, reserved in the
 * current transaction. */
int store_next_resource_version(Store *s, uint64_t *ret, GError **error);
uint64_t store_current_resource_version(Store *s);

int store_put(Store *s, const StoreRow *row, GError **error);
int store_delete(Store *s, const char *uid, GError **error);
