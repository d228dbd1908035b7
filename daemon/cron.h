/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Cron schedules as Kubernetes' CronJobs (and so CDI's DataImportCrons)
 * read them: five fields — minute, hour, day of month, month, day of week
 * — each "*" (or "?"), a number, a name (JAN-DEC, SUN-SAT), a range
 * "a-b", a step "*\/n", "a-b/n" or "a/n", or a comma list of these; day
 * of week 0-7 (0 and 7 are Sunday); or a macro: @yearly, @annually,
 * @monthly, @weekly, @daily, @midnight, @hourly.  When both day fields
 * are restricted, a day matching either fires (as Vixie cron).  Times are
 * UTC.  Pure (tests/test-cron.c). */
typedef struct CronSchedule {
        uint64_t minutes;               /* bit n: minute n fires */
        uint32_t hours;
        uint32_t days;                  /* bits 1-31 */
        uint16_t months;                /* bits 1-12 */
        uint8_t weekdays;               /* bits 0-6, Sunday 0 */
        bool days_star, weekdays_star;  /* the field was "*" */
} CronSchedule;

/* -EINVAL with a message naming the field that is wrong. */
int cron_parse(const char *text, CronSchedule *ret, GError **error);
/* The first minute strictly after `after` (seconds since the epoch) the
 * schedule fires at; -1 when none does within five years ("0 0 30 2 *"). */
int64_t cron_next(const CronSchedule *s, int64_t after);
