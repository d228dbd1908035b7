/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "quantity.h"
#include "util.h"

static void check(const char *s, int64_t units, int64_t milli) {
        g_autoptr(GError) e = NULL;
        Quantity q;
        int64_t v;

        g_assert_cmpint(quantity_parse(s, &q, &e), ==, 0);
        g_assert_no_error(e);
        g_assert_cmpint(quantity_to_int64(&q, &v), ==, 0);
        g_assert_cmpint(v, ==, units);
        g_assert_cmpint(quantity_to_milli(&q, &v), ==, 0);
        g_assert_cmpint(v, ==, milli);
}

static void test_valid(void) {
        check("0", 0, 0);
        check("1", 1, 1000);
        check("128Mi", 128LL << 20, (128LL << 20) * 1000);
        check("2Gi", 2LL << 30, (2LL << 30) * 1000);
        check("1.5G", 1500000000LL, 1500000000000LL);
        check("1.5Gi", 3LL << 29, (3LL << 29) * 1000);
        check("500m", 1, 500);           /* Value() rounds up */
        check("1e3", 1000, 1000000);
        check("1E3", 1000, 1000000);
        check("1.5e3", 1500, 1500000);
        check("1e-3", 1, 1);
        check("100k", 100000, 100000000);
        check("+5", 5, 5000);
        check("-5", -5, -5000);
        check(".5", 1, 500);
        check("5.", 5, 5000);
        check("0.1Ki", 103, 102400);     /* 102.4 rounds up */
}

static void test_exa_milli_overflow(void) {
        Quantity q;
        int64_t v;
        g_assert_cmpint(quantity_parse("1Ei", &q, NULL), ==, 0);
        g_assert_cmpint(quantity_to_int64(&q, &v), ==, 0);
        g_assert_cmpint(v, ==, 1LL << 60);
        g_assert_cmpint(quantity_to_milli(&q, &v), ==, -ERANGE);
}

static void test_invalid(void) {
        static const char *const bad[] = {
                "", "abc", "1.2.3", "1Gib", "G", "1 Gi", "--1", "1e", "1e+", "1ee3", ".", "1i", "0x10", "1Ki3",
                "12345678901234567890123456789012345678901234567890123456789012345",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) e = NULL;
                Quantity q;
                if (quantity_parse(bad[i], &q, &e) == 0)
                        g_error("\"%s\" parsed", bad[i]);
                g_assert_nonnull(e);
        }
}

static void test_too_large(void) {
        g_autoptr(GError) e = NULL;
        int64_t v;
        g_assert_cmpint(quantity_parse_int64("16Ei", &v, &e), ==, -ERANGE);
        g_assert_nonnull(strstr(e->message, "\"16Ei\" is out of range"));
        g_clear_error(&e);
        /* just past int64: out of range, and said so (not "invalid", not a
         * value that later reads as zero or negative) */
        static const char *const over[] = { "8Ei", "9223372036854775808", "-9223372036854775808",
                                            "9223372036854775807.5", "1e19", "1180591620717411303424", "8192Pi",
                                            "-8Ei", "1e41" };
        for (size_t i = 0; i < G_N_ELEMENTS(over); i++) {
                Quantity q;
                g_assert_cmpint(quantity_parse(over[i], &q, &e), ==, -ERANGE);
                g_assert_nonnull(strstr(e->message, "out of range"));
                g_assert_nonnull(strstr(e->message, over[i]));
                g_clear_error(&e);
        }
        g_assert_cmpint(quantity_parse_int64("9223372036854775807", &v, NULL), ==, 0);
        g_assert_cmpint(v, ==, G_MAXINT64);
        g_assert_cmpint(quantity_parse_int64("-9223372036854775807", &v, NULL), ==, 0);
        g_assert_cmpint(v, ==, -G_MAXINT64);
        g_assert_cmpint(quantity_parse_int64("1e40", &v, &e), <, 0);
        g_clear_error(&e);
        g_assert_cmpint(quantity_parse_int64("7Ei", &v, NULL), ==, 0);
        g_assert_cmpint(v, ==, 7LL << 60);
}

static void test_error_names_input(void) {
        g_autoptr(GError) e = NULL;
        int64_t v;
        g_assert_cmpint(quantity_parse_int64("12XB", &v, &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e->message, "12XB"));
}

/* Each quantity parsed from a buffer of exactly its length (heap, so that
 * the sanitizer lane sees a read past its end: the suffix check once
 * looked two bytes ahead of a quantity without one). */
static void test_reads_stay_in_the_string(void) {
        static const char *const values[] = { "1", "12", "1e3", "1E-2", "5Gi", "1.5", "0", "-1", "e", "1e", "1e+",
                                              "128Mi", NULL };
        for (const char *const *v = values; *v; v++) {
                g_autofree char *copy = g_memdup2(*v, strlen(*v) + 1);
                Quantity q;
                (void) quantity_parse(copy, &q, NULL);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/quantity/valid", test_valid);
        g_test_add_func("/quantity/reads-stay-in-the-string", test_reads_stay_in_the_string);
        g_test_add_func("/quantity/exa-milli-overflow", test_exa_milli_overflow);
        g_test_add_func("/quantity/invalid", test_invalid);
        g_test_add_func("/quantity/too-large", test_too_large);
        g_test_add_func("/quantity/error-names-input", test_error_names_input);
        return g_test_run();
}
