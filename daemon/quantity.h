/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* A Kubernetes resource quantity ("128Mi", "1.5G", "500m", "1e3"), held
 * exactly as a signed count of nano-units (10^-9), the finest precision
 * Kubernetes keeps; finer fractions round up, as Kubernetes rounds them. */
typedef struct Quantity {
        bool negative;
        unsigned __int128 nano;   /* magnitude in units of 10^-9 */
} Quantity;

int quantity_parse(const char *s, Quantity *ret, GError **error);

/* Whole units, rounded up (Kubernetes' Quantity.Value()).  -ERANGE when the
 * value does not fit in an int64. */
int quantity_to_int64(const Quantity *q, int64_t *ret);
/* Milli-units, rounded up (Quantity.MilliValue()). */
int quantity_to_milli(const Quantity *q, int64_t *ret);

/* Parse and convert to whole units (bytes, for storage requests). */
int quantity_parse_int64(const char *s, int64_t *ret, GError **error);
