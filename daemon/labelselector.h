/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

/* A Kubernetes label selector in its string form, as `kubectl -l` takes it:
 * "app=web,tier!=db,env in (prod, qa),!legacy,release notin (1),track". */
typedef struct LabelSelector LabelSelector;

int label_selector_parse(const char *s, LabelSelector **ret, GError **error);
LabelSelector *label_selector_free(LabelSelector *sel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LabelSelector, label_selector_free)

/* labels may be NULL (an object without labels). */
bool label_selector_matches(const LabelSelector *sel, JsonObject *labels);

/* A metav1.LabelSelector ({matchLabels, matchExpressions}) in the string
 * form above, as Kubernetes' FormatLabelSelector writes it (the canonical
 * status.labelSelector of scalable kinds); NULL with an error naming the
 * member (below the selector) that is wrong.  An empty selector is "". */
char *label_selector_format(JsonObject *sel, GError **error);
