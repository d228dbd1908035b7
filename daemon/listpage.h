/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Kubernetes' List paging (limit/continue): the opaque continue token and
 * where the next page starts.  Pages walk the objects in List's order
 * (namespace, then name); a token names the last object served, so an
 * object present throughout is served exactly once however the others
 * change between pages. */

/* The token of a List of kind in namespace ("" all) with selector (NULL:
 * none) whose last item was after_namespace/after_name. */
char *list_continue_token(const char *kind, const char *namespace, const char *selector,
                          const char *after_namespace, const char *after_name);

/* Read a token back; it must come from a List of the same kind, namespace
 * and selector (-EINVAL otherwise, the message saying what is wrong). */
int list_continue_parse(const char *token, const char *kind, const char *namespace, const char *selector,
                        char **ret_namespace, char **ret_name, GError **error);

/* In objects (Object *, sorted as List sorts them), the index of the first
 * one after namespace/name. */
guint list_continue_start(GPtrArray *objects, const char *after_namespace, const char *after_name);
