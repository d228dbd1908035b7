/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cron schedules (daemon/cron.h): the fields, macros, steps, ranges, lists,
 * names, the two day fields, and the next time from a given one. */
#include <time.h>

#include "cron.h"
#include "util.h"

/* "YYYY-MM-DDTHH:MM" UTC to seconds and back */
static int64_t at(const char *s) {
        struct tm tm = { 0 };
        g_assert_nonnull(strptime(s, "%Y-%m-%dT%H:%M", &tm));
        return (int64_t) timegm(&tm);
}

static char *when(int64_t t) {
        time_t tt = (time_t) t;
        struct tm tm;
        char buf[32];
        gmtime_r(&tt, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm);
        return g_strdup(buf);
}

static char *next(const char *schedule, const char *from) {
        CronSchedule s;
        g_autoptr(GError) e = NULL;
        g_assert_cmpint(cron_parse(schedule, &s, &e), ==, 0);
        int64_t t = cron_next(&s, at(from));
        return t < 0 ? g_strdup("never") : when(t);
}

static void check(const char *schedule, const char *from, const char *want) {
        g_autofree char *got = next(schedule, from);
        g_assert_cmpstr(got, ==, want);
}

static void test_next(void) {
        /* 2026-12-05 is a Saturday */
        check("* * * * *", "2026-12-05T12:40", "2026-12-05T12:41");
        check("*/15 * * * *", "2026-12-05T12:40", "2026-12-05T12:45");
        check("0 */6 * * *", "2026-12-05T12:40", "2026-12-05T18:00");
        check("30 2 * * *", "2026-12-05T12:40", "2026-12-06T02:30");
        check("5,10-12 8 * * *", "2026-12-05T08:10", "2026-12-05T08:11");
        check("5,10-12 8 * * *", "2026-12-05T08:12", "2026-12-06T08:05");
        check("0 0 1 */3 *", "2026-12-05T12:40", "2027-01-01T00:00");
        check("0 0 * * MON-FRI", "2026-12-05T12:40", "2026-12-07T00:00");
        check("0 0 * * 7", "2026-12-05T12:40", "2026-12-06T00:00");     /* 7: Sunday */
        check("0 0 * JUN *", "2026-12-05T12:40", "2027-06-01T00:00");
        check("0 0 29 2 *", "2026-12-05T12:40", "2028-02-29T00:00");
        check("0 0 30 2 *", "2026-12-05T12:40", "never");
        check("0 0 10-20/5 * *", "2026-12-05T12:40", "2026-12-10T00:00");
        check("0 0 10/10 * *", "2026-12-10T00:00", "2026-12-20T00:00");
        /* both day fields restricted: either fires */
        check("0 0 13 * 5", "2026-12-05T12:40", "2026-12-11T00:00");
        check("0 0 13 * 5", "2026-12-11T00:00", "2026-12-13T00:00");
        /* one of them "*": both must match */
        check("0 0 13 * *", "2026-12-05T12:40", "2026-12-13T00:00");
        check("0 0 * * 5", "2026-12-05T12:40", "2026-12-11T00:00");
        check("0 0 ? * 5", "2026-12-05T12:40", "2026-12-11T00:00");
        /* strictly after: a time that fires gives the next one */
        check("0 * * * *", "2026-12-05T13:00", "2026-12-05T14:00");
}

static void test_macros(void) {
        check("@hourly", "2026-12-05T12:40", "2026-12-05T13:00");
        check("@daily", "2026-12-05T12:40", "2026-12-06T00:00");
        check("@midnight", "2026-12-05T12:40", "2026-12-06T00:00");
        check("@weekly", "2026-12-05T12:40", "2026-12-06T00:00");
        check("@monthly", "2026-12-05T12:40", "2027-01-01T00:00");
        check("@yearly", "2026-12-05T12:40", "2027-01-01T00:00");
        check("@annually", "2026-12-05T12:40", "2027-01-01T00:00");
        check("  @DAILY ", "2026-12-05T12:40", "2026-12-06T00:00");
}

static void test_errors(void) {
        static const struct {
                const char *schedule, *fragment;
        } bad[] = {
                { "", "5 fields" },
                { "* * * *", "5 fields" },
                { "* * * * * *", "5 fields" },
                { "60 * * * *", "minute: \"60\"" },
                { "* 24 * * *", "hour: \"24\"" },
                { "* * 0 * *", "day of month: \"0\"" },
                { "* * * 13 *", "month: \"13\"" },
                { "* * * * 8", "day of week: \"8\"" },
                { "*/0 * * * *", "minute: \"*/0\": the step" },
                { "*/x * * * *", "the step" },
                { "5-1 * * * *", "not a range" },
                { "1,,2 * * * *", "empty list element" },
                { "* * * FOO *", "month: \"FOO\"" },
                { "@every 5m", "@yearly" },
                { "@reboot", "@yearly" },
                { "-1 * * * *", "not a range" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                CronSchedule s;
                g_autoptr(GError) e = NULL;
                g_assert_cmpint(cron_parse(bad[i].schedule, &s, &e), ==, -EINVAL);
                if (!strstr(e->message, bad[i].fragment))
                        g_error("\"%s\": \"%s\" lacks \"%s\"", bad[i].schedule, e->message, bad[i].fragment);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/cron/next", test_next);
        g_test_add_func("/cron/macros", test_macros);
        g_test_add_func("/cron/errors", test_errors);
        return g_test_run();
}
