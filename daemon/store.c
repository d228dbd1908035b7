/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define STORE_SCHEMA_VERSION 1

struct Store {
        sqlite3 *db;
        char *dir;                      /* the directory holding the database, for messages */
        sqlite3_stmt *put, *del, *get_rv, *set_rv;
        uint64_t resource_version;      /* last committed */
        uint64_t pending_rv;            /* inside a transaction */
        bool in_transaction;
};

static int db_error(Store *s, GError **error, const char *what) {
        int code = sqlite3_errcode(s->db);
        struct statvfs sv;

        if (code == SQLITE_FULL && s->dir && statvfs(s->dir, &sv) == 0)
                /* SQLite says "database or disk is full": say which file
                 * system, and how little it has left */
                return ev_error_set(error, ENOSPC, "object store: %s: the file system of %s is full (%" G_GUINT64_FORMAT
                                    " bytes free); nothing was changed", what, s->dir,
                                    (guint64) sv.f_bavail * sv.f_frsize);
        int err = code == SQLITE_FULL ? ENOSPC : code == SQLITE_READONLY ? EROFS :
                  code == SQLITE_BUSY || code == SQLITE_LOCKED ? EBUSY : EIO;
        return ev_error_set(error, err, "object store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(Store *s, const char *sql, GError **error) {
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                if (sqlite3_errcode(s->db) == SQLITE_FULL) {
                        sqlite3_free(msg);
                        return db_error(s, error, "write");
                }
                int r = ev_error_set(error, EIO, "object store: %s", msg ? msg : sqlite3_errmsg(s->db));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

static int prepare(Store *s, const char *sql, sqlite3_stmt **ret, GError **error) {
        if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK)
                return db_error(s, error, "prepare");
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        sqlite3_finalize(s->put);
        sqlite3_finalize(s->del);
        sqlite3_finalize(s->get_rv);
        sqlite3_finalize(s->set_rv);
        sqlite3_close(s->db);
        g_free(s->dir);
        g_free(s);
        return NULL;
}

int store_open(const char *path, Store **ret, GError **error) {
        g_autoptr(Store) s = g_new0(Store, 1);
        int r;

        s->dir = g_path_get_dirname(path);

        /* private whatever the umask; SQLite gives the WAL and shared-memory
         * files the database's mode; files of an earlier, laxer start are
         * made private too */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || fchmod(fd, 0600) < 0) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                return ev_error_set(error, -r, "cannot open object store %s: %s", path, g_strerror(-r));
        }
        close(fd);
        for (const char *const *suffix = (const char *const[]) { "-wal", "-shm", NULL }; *suffix; suffix++) {
                g_autofree char *side = g_strconcat(path, *suffix, NULL);
                if (chmod(side, 0600) < 0 && errno != ENOENT)
                        return ev_error_set(error, errno, "cannot make %s private: %s", side, g_strerror(errno));
        }
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK)
                return ev_error_set(error, EIO, "cannot open object store %s: %s", path,
                                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_busy_timeout(s->db, 5000);

        r = exec(s,
                 "PRAGMA journal_mode=WAL;"
                 "PRAGMA synchronous=FULL;"
                 "PRAGMA foreign_keys=ON;"
                 /* the model holds every document: the store is written and
                  * read once at start, so 512 KiB of pages, not SQLite's 2 MiB */
                 "PRAGMA cache_size=-512;"
                 "CREATE TABLE IF NOT EXISTS meta ("
                 "  key TEXT PRIMARY KEY,"
                 "  value INTEGER NOT NULL);"
                 "CREATE TABLE IF NOT EXISTS objects ("
                 "  uid TEXT PRIMARY KEY,"
                 "  api_group TEXT NOT NULL,"
                 "  kind TEXT NOT NULL,"
                 "  namespace TEXT NOT NULL,"
                 "  name TEXT NOT NULL,"
                 "  resource_version INTEGER NOT NULL,"
                 "  document TEXT NOT NULL,"
                 "  UNIQUE (api_group, kind, namespace, name));"
                 "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', 1), ('resource_version', 0);",
                 error);
        if (r < 0)
                return r;

        r = prepare(s, "SELECT value FROM meta WHERE key = 'schema_version'", &s->get_rv, error);
        if (r < 0)
                return r;
        if (sqlite3_step(s->get_rv) != SQLITE_ROW)
                return db_error(s, error, "read schema version");
        if (sqlite3_column_int(s->get_rv, 0) > STORE_SCHEMA_VERSION)
                return ev_error_set(error, EPROTO,
                                    "object store %s was written by a newer edgevirtd (schema %d, this one knows %d)",
                                    path, sqlite3_column_int(s->get_rv, 0), STORE_SCHEMA_VERSION);
        sqlite3_finalize(s->get_rv);
        s->get_rv = NULL;

        if ((r = prepare(s, "SELECT value FROM meta WHERE key = 'resource_version'", &s->get_rv, error)) < 0 ||
            (r = prepare(s, "UPDATE meta SET value = ?1 WHERE key = 'resource_version'", &s->set_rv, error)) < 0 ||
            (r = prepare(s, "INSERT INTO objects (uid, api_group, kind, namespace, name, resource_version, document) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (uid) DO UPDATE SET resource_version = "
                            "?6, document = ?7", &s->put, error)) < 0 ||
            (r = prepare(s, "DELETE FROM objects WHERE uid = ?1", &s->del, error)) < 0)
                return r;

        if (sqlite3_step(s->get_rv) != SQLITE_ROW)
                return db_error(s, error, "read resource version");
        s->resource_version = (uint64_t) sqlite3_column_int64(s->get_rv, 0);
        sqlite3_reset(s->get_rv);

        *ret = g_steal_pointer(&s);
        return 0;
}

int store_load(Store *s, StoreLoadFunc f, void *userdata, GError **error) {
        sqlite3_stmt *q = NULL;
        int r = 0, rc;

        r = prepare(s, "SELECT uid, api_group, kind, namespace, name, resource_version, document "
                       "FROM objects ORDER BY resource_version", &q, error);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                StoreRow row = {
                        .uid = (const char *) sqlite3_column_text(q, 0),
                        .group = (const char *) sqlite3_column_text(q, 1),
                        .kind = (const char *) sqlite3_column_text(q, 2),
                        .namespace = (const char *) sqlite3_column_text(q, 3),
                        .name = (const char *) sqlite3_column_text(q, 4),
                        .resource_version = (uint64_t) sqlite3_column_int64(q, 5),
                        .document = (const char *) sqlite3_column_text(q, 6),
                };
                r = f(&row, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_error(s, error, "load");
        sqlite3_finalize(q);
        return r;
}

int store_begin(Store *s, GError **error) {
        g_assert(!s->in_transaction);
        if (exec(s, "BEGIN IMMEDIATE", error) < 0)
                return -EIO;
        s->in_transaction = true;
        s->pending_rv = s->resource_version;
        return 0;
}

int store_commit(Store *s, GError **error) {
        g_assert(s->in_transaction);
        if (s->pending_rv != s->resource_version) {
                sqlite3_bind_int64(s->set_rv, 1, (sqlite3_int64) s->pending_rv);
                int rc = sqlite3_step(s->set_rv);
                sqlite3_reset(s->set_rv);
                if (rc != SQLITE_DONE) {
                        int r = db_error(s, error, "update resource version");
                        store_rollback(s);
                        return r;
                }
        }
        if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                int r = db_error(s, error, "commit");
                store_rollback(s);
                return r;
        }
        s->in_transaction = false;
        s->resource_version = s->pending_rv;
        return 0;
}

void store_rollback(Store *s) {
        if (!s->in_transaction)
                return;
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_transaction = false;
        s->pending_rv = s->resource_version;
}

int store_next_resource_version(Store *s, uint64_t *ret, GError **error) {
        g_assert(s->in_transaction);
        *ret = ++s->pending_rv;
        return 0;
}

uint64_t store_current_resource_version(Store *s) {
        return s->resource_version;
}

int store_put(Store *s, const StoreRow *row, GError **error) {
        int rc;

        g_assert(s->in_transaction);
        sqlite3_bind_text(s->put, 1, row->uid, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->put, 2, row->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->put, 3, row->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->put, 4, row->namespace, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->put, 5, row->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s->put, 6, (sqlite3_int64) row->resource_version);
        sqlite3_bind_text(s->put, 7, row->document, -1, SQLITE_STATIC);
        rc = sqlite3_step(s->put);
        sqlite3_reset(s->put);
        sqlite3_clear_bindings(s->put);
        if (rc != SQLITE_DONE)
                return db_error(s, error, "write");
        return 0;
}

int store_delete(Store *s, const char *uid, GError **error) {
        int rc;

        g_assert(s->in_transaction);
        sqlite3_bind_text(s->del, 1, uid, -1, SQLITE_STATIC);
        rc = sqlite3_step(s->del);
        sqlite3_reset(s->del);
        if (rc != SQLITE_DONE)
                return db_error(s, error, "delete");
        return 0;
}
