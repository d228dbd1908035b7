/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>

#include "callstats.h"
#include "prom.h"

static char *render(PromSet *s) {
        g_autoptr(GBytes) b = prom_set_render(s);
        gsize len;
        const char *data = g_bytes_get_data(b, &len);
        return g_strndup(data, len);
}

/* Families in declaration order, each once, samples grouped under it
 * whatever order they came in; empty families and empty labels left out. */
static void test_grouping(void) {
        g_autoptr(PromSet) s = prom_set_new();
        g_autofree char *text = NULL;

        prom_family(s, "a_total", PROM_COUNTER, "A counter.");
        prom_family(s, "b", PROM_GAUGE, "B\nwith \\ a newline.");
        prom_family(s, "empty", PROM_GAUGE, "Never sampled.");
        prom_family(s, "a_total", PROM_GAUGE, "declared again: ignored");
        prom_sample(s, "b", "b", 2, "x", "1", NULL);
        prom_sample(s, "a_total", "a_total", 1, "k", "v", "gone", "", "none", NULL, NULL);
        prom_sample(s, "b", "b", 3, NULL);
        text = render(s);
        g_assert_cmpstr(text, ==,
                        "# HELP a_total A counter.\n"
                        "# TYPE a_total counter\n"
                        "a_total{k=\"v\"} 1\n"
                        "# HELP b B\\nwith \\\\ a newline.\n"
                        "# TYPE b gauge\n"
                        "b{x=\"1\"} 2\n"
                        "b 3\n");
}

static void test_values_and_escaping(void) {
        g_autoptr(PromSet) s = prom_set_new();
        g_autofree char *text = NULL;

        prom_family(s, "v", PROM_GAUGE, "Values.");
        prom_sample(s, "v", "v", 0.1, "l", "a\"b\\c\nd", NULL);
        prom_sample(s, "v", "v", 123.895731, NULL);
        prom_sample(s, "v", "v", 1073741824, NULL);
        prom_sample(s, "v", "v", NAN, NULL);
        prom_sample(s, "v", "v", -INFINITY, NULL);
        prom_sample(s, "v", "v", 1e300, NULL);
        text = render(s);
        g_assert_nonnull(strstr(text, "v{l=\"a\\\"b\\\\c\\nd\"} 0.1\n"));
        g_assert_nonnull(strstr(text, "v 123.895731\n"));
        g_assert_nonnull(strstr(text, "v 1073741824\n"));
        g_assert_nonnull(strstr(text, "v NaN\n"));
        g_assert_nonnull(strstr(text, "v -Inf\n"));
        g_assert_nonnull(strstr(text, "v 1e+300\n"));
}

/* Buckets are cumulative, +Inf equals the count, errors are series of their own. */
static void test_callstats(void) {
        g_autoptr(CallStats) c = callstats_new();
        g_autoptr(PromSet) s = prom_set_new();
        g_autofree char *text = NULL;

        callstats_record(c, "i.M", "Get", NULL, 0.0005);
        callstats_record(c, "i.M", "Get", "e.NotFound", 0.2);
        callstats_record(c, "i.M", "Get", NULL, 60);
        callstats_render(c, s);
        text = render(s);
        g_assert_nonnull(strstr(text, "edgevirt_dbus_calls_total{interface=\"i.M\",method=\"Get\"} 2\n"));
        g_assert_nonnull(strstr(text, "edgevirt_dbus_calls_total{interface=\"i.M\",method=\"Get\","
                                      "error=\"e.NotFound\"} 1\n"));
        g_assert_nonnull(strstr(text, "le=\"0.001\"} 1\n"));
        g_assert_nonnull(strstr(text, "le=\"0.1\"} 1\n"));
        g_assert_nonnull(strstr(text, "le=\"0.25\"} 2\n"));
        g_assert_nonnull(strstr(text, "le=\"30\"} 2\n"));
        g_assert_nonnull(strstr(text, "le=\"+Inf\"} 3\n"));
        g_assert_nonnull(strstr(text, "edgevirt_dbus_call_duration_seconds_count{interface=\"i.M\","
                                      "method=\"Get\"} 3\n"));
        g_assert_nonnull(strstr(text, "edgevirt_dbus_call_duration_seconds_sum{interface=\"i.M\","
                                      "method=\"Get\"} 60.2005\n"));
}

/* A label pair with an empty value is left out, "le" comes last. */
static void test_histogram(void) {
        static const double b[] = { 0.5, 1 };
        g_autoptr(PromSet) s = prom_set_new();
        g_autoptr(PromHistogram) h = prom_histogram_new(b, G_N_ELEMENTS(b));
        const char *labels[] = { "phase", "Scheduled", "last_phase", "", NULL };

        prom_family(s, "t", PROM_HISTOGRAM, "A test.");
        prom_histogram_observe(h, 0.75);
        prom_histogram_observe(h, 7);
        prom_histogram_render(s, "t", h, labels);
        g_autoptr(GBytes) out = prom_set_render(s);
        const char *text = g_bytes_get_data(out, NULL);
        g_assert_nonnull(strstr(text, "t_bucket{phase=\"Scheduled\",le=\"0.5\"} 0\n"));
        g_assert_nonnull(strstr(text, "t_bucket{phase=\"Scheduled\",le=\"1\"} 1\n"));
        g_assert_nonnull(strstr(text, "t_bucket{phase=\"Scheduled\",le=\"+Inf\"} 2\n"));
        g_assert_nonnull(strstr(text, "t_sum{phase=\"Scheduled\"} 7.75\n"));
        g_assert_nonnull(strstr(text, "t_count{phase=\"Scheduled\"} 2\n"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/prom/grouping", test_grouping);
        g_test_add_func("/prom/values-and-escaping", test_values_and_escaping);
        g_test_add_func("/prom/callstats", test_callstats);
        g_test_add_func("/prom/histogram", test_histogram);
        return g_test_run();
}
