/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* How unknown fields are treated, as Kubernetes' fieldValidation. */
typedef enum FieldValidation {
        FIELD_VALIDATION_STRICT,   /* unknown field: error */
        FIELD_VALIDATION_WARN,     /* unknown field: dropped, with a warning */
        FIELD_VALIDATION_IGNORE,   /* unknown field: dropped silently */
} FieldValidation;

int field_validation_from_string(const char *s, FieldValidation *ret);

/* Validates a document against a definition of the schema (a subset of
 * OpenAPI v2, as KubeVirt publishes): types, known fields, quantities,
 * base64 ("format: byte"), int-or-string.  Null members are removed (as
 * Kubernetes decodes them as unset) and, outside Strict mode, unknown
 * members too.  Known fields that edgevirt cannot honour carry
 * "x-edgevirt-unsupported": "<reason>" and are always refused.
 *
 * All problems are collected; on error the message lists them, each with
 * its field path ("spec.foo: unknown field").  The code is EOPNOTSUPP
 * when a refused known field is among them, else EINVAL. */
int schema_validate(const char *definition, JsonNode *doc, FieldValidation mode,
                    GPtrArray *warnings, GError **error);

/* Whether the schema knows a definition of this name. */
gboolean schema_has_definition(const char *definition);
