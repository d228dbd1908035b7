/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cron schedules (cron.h): parsing the five fields and the next time. */
#include <stdlib.h>
#include <time.h>

#include "cron.h"
#include "util.h"

typedef struct Field {
        const char *name;
        unsigned min, max;
        const char *const *names;       /* names of min, min+1, ... (may be NULL) */
} Field;

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const Field fields[] = {
        { "minute", 0, 59, NULL },
        { "hour", 0, 23, NULL },
        { "day of month", 1, 31, NULL },
        { "month", 1, 12, month_names },
        { "day of week", 0, 7, day_names },
};

static const struct {
        const char *macro;
        const char *fields;
} macros[] = {
        { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
        { "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
        { "@hourly", "0 * * * *" },
};

/* A number or a name of field f: 0 and *ret, else -1. */
static int value(const Field *f, const char *s, unsigned *ret) {
        char *end;
        if (g_ascii_isdigit(*s)) {
                unsigned long v = strtoul(s, &end, 10);
                if (*end || v < f->min || v > f->max)
                        return -1;
                *ret = (unsigned) v;
                return 0;
        }
        for (unsigned i = 0; f->names && f->names[i]; i++)
                if (g_ascii_strcasecmp(s, f->names[i]) == 0) {
                        *ret = f->min + i;
                        return 0;
                }
        return -1;
}

/* One element of a list: "*", "?", "a", "a-b", each with an optional "/n". */
static int element(const Field *f, const char *text, uint64_t *bits, GError **error) {
        g_autofree char *s = g_strdup(text);
        char *slash = strchr(s, '/'), *dash;
        unsigned lo, hi, step = 1;

        if (slash) {
                char *end;
                *slash = '\0';
                unsigned long v = strtoul(slash + 1, &end, 10);
                if (!g_ascii_isdigit(slash[1]) || *end || v == 0 || v > f->max)
                        return ev_error_set(error, EINVAL, "%s: \"%s\": the step must be a number from 1 to %u",
                                            f->name, text, f->max);
                step = (unsigned) v;
        }
        if (streq(s, "*") || streq(s, "?")) {
                lo = f->min;
                hi = f->max;
        } else if ((dash = strchr(s, '-'))) {
                *dash = '\0';
                if (value(f, s, &lo) < 0 || value(f, dash + 1, &hi) < 0 || lo > hi)
                        return ev_error_set(error, EINVAL, "%s: \"%s\" is not a range within %u-%u", f->name, text,
                                            f->min, f->max);
        } else {
                if (value(f, s, &lo) < 0)
                        return ev_error_set(error, EINVAL, "%s: \"%s\" is not a value from %u to %u", f->name, text,
                                            f->min, f->max);
                hi = slash ? f->max : lo;       /* "a/n": from a to the end */
        }
        for (unsigned v = lo; v <= hi; v += step)
                *bits |= UINT64_C(1) << v;
        return 0;
}

static int parse_field(const Field *f, const char *text, uint64_t *bits, GError **error) {
        g_auto(GStrv) parts = g_strsplit(text, ",", -1);
        *bits = 0;
        for (char **p = parts; *p; p++) {
                if (!**p)
                        return ev_error_set(error, EINVAL, "%s: \"%s\" has an empty list element", f->name, text);
                if (element(f, *p, bits, error) < 0)
                        return -EINVAL;
        }
        return 0;
}

int cron_parse(const char *text, CronSchedule *ret, GError **error) {
        g_autofree char *trimmed = g_strstrip(g_strdup(text ? text : ""));
        const char *spec = trimmed;
        uint64_t bits[5];

        if (*spec == '@') {
                spec = NULL;
                for (size_t i = 0; i < G_N_ELEMENTS(macros); i++)
                        if (g_ascii_strcasecmp(trimmed, macros[i].macro) == 0)
                                spec = macros[i].fields;
                if (!spec)
                        return ev_error_set(error, EINVAL, "\"%s\" is not one of @yearly, @annually, @monthly, "
                                            "@weekly, @daily, @midnight, @hourly", trimmed);
        }
        g_auto(GStrv) words = g_strsplit_set(spec, " \t", -1);
        g_autoptr(GPtrArray) f = g_ptr_array_new();
        for (char **w = words; *w; w++)
                if (**w)
                        g_ptr_array_add(f, *w);
        if (f->len != 5)
                return ev_error_set(error, EINVAL, "\"%s\": a schedule has 5 fields (minute hour day-of-month month "
                                    "day-of-week) or is a macro such as @daily; %u given", trimmed, f->len);
        for (unsigned i = 0; i < 5; i++)
                if (parse_field(&fields[i], f->pdata[i], &bits[i], error) < 0)
                        return -EINVAL;
        *ret = (CronSchedule) {
                .minutes = bits[0], .hours = (uint32_t) bits[1], .days = (uint32_t) bits[2],
                .months = (uint16_t) bits[3],
                .weekdays = (uint8_t) ((bits[4] | (bits[4] >> 7)) & 0x7f),    /* 7 is Sunday too */
                .days_star = g_str_has_prefix(f->pdata[2], "*") || g_str_has_prefix(f->pdata[2], "?"),
                .weekdays_star = g_str_has_prefix(f->pdata[4], "*") || g_str_has_prefix(f->pdata[4], "?"),
        };
        return 0;
}

static bool day_fires(const CronSchedule *s, const struct tm *tm) {
        bool dom = s->days & (UINT32_C(1) << tm->tm_mday), dow = s->weekdays & (1u << tm->tm_wday);
        if (s->days_star || s->weekdays_star)
                return dom && dow;
        return dom || dow;
}

int64_t cron_next(const CronSchedule *s, int64_t after) {
        time_t t = (time_t) (after - (after % 60 + 60) % 60 + 60);     /* the next whole minute */
        time_t end = t + (time_t) 5 * 366 * 86400;
        struct tm tm;

        while (t < end) {
                gmtime_r(&t, &tm);
                if (!(s->months & (1u << (tm.tm_mon + 1)))) {
                        tm.tm_mon++;
                        tm.tm_mday = 1;
                        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                } else if (!day_fires(s, &tm)) {
                        tm.tm_mday++;
                        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                } else if (!(s->hours & (UINT32_C(1) << tm.tm_hour))) {
                        tm.tm_hour++;
                        tm.tm_min = tm.tm_sec = 0;
                } else if (!(s->minutes & (UINT64_C(1) << tm.tm_min)))
                        tm.tm_min++;
                else
                        return (int64_t) t;
                t = timegm(&tm);
        }
        return -1;
}
