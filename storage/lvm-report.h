/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <glib.h>

/* One row of an lvm JSON report (lvs/vgs --reportformat json). */
typedef GHashTable LvmRow;

/* Rows of section ("lv", "vg", "pv") of a report:
 *   {"report": [ {"lv": [ {"lv_name": "x", ...}, ... ]} ]} */
int lvm_report_parse(const char *json, const char *section, GPtrArray **ret, GError **error);

const char *lvm_row_get(LvmRow *row, const char *field);
uint64_t lvm_row_get_u64(LvmRow *row, const char *field);     /* 0 when absent */
double lvm_row_get_double(LvmRow *row, const char *field);    /* 0 when absent or empty */
