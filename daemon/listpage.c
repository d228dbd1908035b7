/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "listpage.h"
#include "object.h"
#include "util.h"

#define TOKEN_VERSION "edgevirt-list-1"
#define TOKEN_FIELDS 6
#define TOKEN_MAX 4096          /* names and a selector: far less */

/* The fields, one a line: version, kind, namespace, selector, and the last
 * object served.  Names and kinds hold no newline; a selector with one is
 * refused before a token is made. */
char *list_continue_token(const char *kind, const char *namespace, const char *selector,
                          const char *after_namespace, const char *after_name) {
        g_autofree char *plain = g_strjoin("\n", TOKEN_VERSION, kind, namespace ?: "", selector ?: "",
                                           after_namespace ?: "", after_name, NULL);
        return g_base64_encode((const guchar *) plain, strlen(plain));
}

int list_continue_parse(const char *token, const char *kind, const char *namespace, const char *selector,
                        char **ret_namespace, char **ret_name, GError **error) {
        g_autofree guchar *raw = NULL;
        g_autofree char *plain = NULL;
        g_auto(GStrv) f = NULL;
        gsize len = 0;

        static const char base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

        if (strlen(token) > TOKEN_MAX || strspn(token, base64) != strlen(token))
                return ev_error_set(error, EINVAL, "not a continue token (the metadata.continue of a List)");
        raw = g_base64_decode(token, &len);
        plain = g_strndup((const char *) raw, len);
        if (strlen(plain) != len || !g_utf8_validate(plain, -1, NULL))
                return ev_error_set(error, EINVAL, "not a continue token (the metadata.continue of a List)");
        f = g_strsplit(plain, "\n", TOKEN_FIELDS + 1);
        if (g_strv_length(f) != TOKEN_FIELDS || !streq(f[0], TOKEN_VERSION) || isempty(f[5]))
                return ev_error_set(error, EINVAL, "not a continue token (the metadata.continue of a List)");
        if (!streq(f[1], kind) || !streq(f[2], namespace ?: "") || !streq(f[3], selector ?: ""))
                return ev_error_set(error, EINVAL, "the token continues a List of %s in %s%s%s%s, not this one", f[1],
                                    isempty(f[2]) ? "all namespaces" : "namespace ", f[2],
                                    isempty(f[3]) ? "" : " with label selector ", f[3]);
        *ret_namespace = g_strdup(f[4]);
        *ret_name = g_strdup(f[5]);
        return 0;
}

guint list_continue_start(GPtrArray *objects, const char *after_namespace, const char *after_name) {
        guint lo = 0, hi = objects->len;

        /* the first object greater than (namespace, name): a binary search */
        while (lo < hi) {
                guint mid = lo + (hi - lo) / 2;
                const Object *o = objects->pdata[mid];
                int c = strcmp(o->namespace, after_namespace);
                if (c == 0)
                        c = strcmp(o->name, after_name);
                if (c <= 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}
