/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "prom.h"
#include "util.h"

#define MAX_LABELS 32

typedef struct Family {
        char *name;
        PromType type;
        char *help;
        GString *samples;
} Family;

struct PromSet {
        GPtrArray *families;            /* Family, in declaration order */
        GHashTable *by_name;            /* name -> Family (borrowed) */
};

static void family_free(Family *f) {
        g_free(f->name);
        g_free(f->help);
        g_string_free(f->samples, TRUE);
        g_free(f);
}

PromSet *prom_set_new(void) {
        PromSet *s = g_new0(PromSet, 1);
        s->families = g_ptr_array_new_with_free_func((GDestroyNotify) family_free);
        s->by_name = g_hash_table_new(g_str_hash, g_str_equal);
        return s;
}

PromSet *prom_set_free(PromSet *s) {
        if (!s)
                return NULL;
        g_hash_table_unref(s->by_name);
        g_ptr_array_unref(s->families);
        g_free(s);
        return NULL;
}

void prom_family(PromSet *s, const char *name, PromType type, const char *help) {
        if (g_hash_table_contains(s->by_name, name))
                return;
        Family *f = g_new0(Family, 1);
        f->name = g_strdup(name);
        f->type = type;
        f->help = g_strdup(help);
        f->samples = g_string_new(NULL);
        g_ptr_array_add(s->families, f);
        g_hash_table_insert(s->by_name, f->name, f);
}

void prom_escape_label(GString *out, const char *value) {
        for (const char *p = value; *p; p++)
                switch (*p) {
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                default:
                        g_string_append_c(out, *p);
                }
}

const char *prom_format_value(char buf[PROM_VALUE_SIZE], double v) {
        if (isnan(v))
                return strcpy(buf, "NaN");
        if (isinf(v))
                return strcpy(buf, v > 0 ? "+Inf" : "-Inf");
        if (v == floor(v) && fabs(v) < 9007199254740992.0) {    /* 2^53: exact as an integer */
                g_snprintf(buf, PROM_VALUE_SIZE, "%.0f", v);
                return buf;
        }
        g_ascii_formatd(buf, PROM_VALUE_SIZE, "%.15g", v);
        if (g_ascii_strtod(buf, NULL) != v)
                g_ascii_dtostr(buf, PROM_VALUE_SIZE, v);
        return buf;
}

void prom_samplev(PromSet *s, const char *family, const char *name, double value, const char *const *labels) {
        Family *f = g_hash_table_lookup(s->by_name, family);
        bool any = false;

        g_return_if_fail(f);
        g_string_append(f->samples, name);
        for (size_t i = 0; labels && labels[i]; i += 2) {
                if (isempty(labels[i + 1]))
                        continue;
                g_string_append_printf(f->samples, "%s%s=\"", any ? "," : "{", labels[i]);
                prom_escape_label(f->samples, labels[i + 1]);
                g_string_append_c(f->samples, '"');
                any = true;
        }
        char buf[PROM_VALUE_SIZE];
        g_string_append(f->samples, any ? "} " : " ");
        g_string_append(f->samples, prom_format_value(buf, value));
        g_string_append_c(f->samples, '\n');
}

void prom_sample(PromSet *s, const char *family, const char *name, double value, ...) {
        const char *labels[MAX_LABELS * 2 + 1];
        size_t n = 0;
        va_list ap;

        va_start(ap, value);
        for (const char *k; (k = va_arg(ap, const char *)) && n < MAX_LABELS * 2;) {
                labels[n++] = k;
                labels[n++] = va_arg(ap, const char *);
        }
        va_end(ap);
        labels[n] = NULL;
        prom_samplev(s, family, name, value, labels);
}

PromHistogram *prom_histogram_new(const double *bounds, size_t n_bounds) {
        PromHistogram *h = g_new0(PromHistogram, 1);
        h->bounds = bounds;
        h->n_bounds = n_bounds;
        h->buckets = g_new0(guint64, n_bounds);
        return h;
}

void prom_histogram_free(PromHistogram *h) {
        if (!h)
                return;
        g_free(h->buckets);
        g_free(h);
}

void prom_histogram_observe(PromHistogram *h, double v) {
        h->count++;
        h->sum += v;
        for (size_t i = 0; i < h->n_bounds; i++)
                if (v <= h->bounds[i]) {
                        h->buckets[i]++;
                        break;
                }
}

void prom_histogram_render(PromSet *s, const char *family, const PromHistogram *h, const char *const *labels) {
        g_autofree char *bucket = g_strconcat(family, "_bucket", NULL);
        g_autofree char *sum = g_strconcat(family, "_sum", NULL);
        g_autofree char *count = g_strconcat(family, "_count", NULL);
        const char *with_le[MAX_LABELS * 2 + 3];
        char le[PROM_VALUE_SIZE];
        guint64 cumulative = 0;
        size_t n = 0;

        for (; labels && labels[n] && n < MAX_LABELS * 2; n += 2) {
                with_le[n] = labels[n];
                with_le[n + 1] = labels[n + 1];
        }
        with_le[n] = "le";
        with_le[n + 2] = NULL;
        for (size_t i = 0; i <= h->n_bounds; i++) {
                cumulative = i < h->n_bounds ? cumulative + h->buckets[i] : h->count;
                with_le[n + 1] = i < h->n_bounds ? prom_format_value(le, h->bounds[i]) : "+Inf";
                prom_samplev(s, family, bucket, (double) cumulative, with_le);
        }
        prom_samplev(s, family, sum, h->sum, labels);
        prom_samplev(s, family, count, (double) h->count, labels);
}

static void append_help(GString *out, const char *help) {
        for (const char *p = help; *p; p++)
                if (*p == '\\')
                        g_string_append(out, "\\\\");
                else if (*p == '\n')
                        g_string_append(out, "\\n");
                else
                        g_string_append_c(out, *p);
}

GBytes *prom_set_render(PromSet *s) {
        static const char *const types[] = { [PROM_GAUGE] = "gauge", [PROM_COUNTER] = "counter",
                                             [PROM_HISTOGRAM] = "histogram" };
        GString *out = g_string_new(NULL);

        for (guint i = 0; i < s->families->len; i++) {
                Family *f = s->families->pdata[i];
                if (f->samples->len == 0)
                        continue;
                g_string_append_printf(out, "# HELP %s ", f->name);
                append_help(out, f->help);
                g_string_append_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
                g_string_append_len(out, f->samples->str, (gssize) f->samples->len);
        }
        return g_string_free_to_bytes(out);
}
