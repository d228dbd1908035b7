/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

/* Prometheus' text exposition format (version 0.0.4): families declared
 * once with their type and help, samples added in any order, written out
 * grouped by family in the order the families were declared.  Pure; no
 * locking (one set is built by one thread). */
typedef struct PromSet PromSet;

typedef enum PromType {
        PROM_GAUGE,
        PROM_COUNTER,
        PROM_HISTOGRAM,
} PromType;

PromSet *prom_set_new(void);
PromSet *prom_set_free(PromSet *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PromSet, prom_set_free)

/* Declare a family (again: nothing happens).  Samples of an undeclared
 * family are a programming error. */
void prom_family(PromSet *s, const char *name, PromType type, const char *help);

/* One sample of family (for histograms: name is the full series name,
 * family the family's).  labels: name, value, name, value, ..., NULL;
 * a pair whose value is NULL or empty is left out, as KubeVirt's
 * collectors leave out empty labels. */
void prom_sample(PromSet *s, const char *family, const char *name, double value, ...) G_GNUC_NULL_TERMINATED;
void prom_samplev(PromSet *s, const char *family, const char *name, double value, const char *const *labels);

/* A histogram's state: observations counted into fixed buckets (upper
 * bounds, ascending; +Inf implicit), their number and sum. */
typedef struct PromHistogram {
        const double *bounds;           /* static */
        size_t n_bounds;
        guint64 *buckets;               /* n_bounds, not cumulative: (bounds[i-1], bounds[i]] */
        guint64 count;
        double sum;
} PromHistogram;

PromHistogram *prom_histogram_new(const double *bounds, size_t n_bounds);
void prom_histogram_free(PromHistogram *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PromHistogram, prom_histogram_free)
void prom_histogram_observe(PromHistogram *h, double v);
/* family's _bucket (cumulative, with le), _sum and _count samples; labels
 * as prom_samplev's. */
void prom_histogram_render(PromSet *s, const char *family, const PromHistogram *h, const char *const *labels);

/* The text, families in declaration order; families without samples are
 * left out. */
GBytes *prom_set_render(PromSet *s);

/* A value as the format writes it: integers without a fraction, else the
 * shortest of %.15g and %.17g that reads back as v (123.895731, not
 * 123.89573100000001), NaN, +Inf, -Inf; C locale.  Returns buf. */
#define PROM_VALUE_SIZE G_ASCII_DTOSTR_BUF_SIZE
const char *prom_format_value(char buf[PROM_VALUE_SIZE], double v);

/* A label value as the format wants it (backslash, quote, newline escaped). */
void prom_escape_label(GString *out, const char *value);
