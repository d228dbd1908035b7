/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "quantity.h"
#include "util.h"

#define NANO 1000000000ULL
#define MAX_QUANTITY_LEN 64
/* Largest magnitude we accept, in nano: every quantity must convert to a
 * 64-bit count of whole units (bytes, cores), so 2^63 - 1 units, just
 * under 8Ei.  One limit here gives every field the same "out of range". */
#define NANO_LIMIT ((unsigned __int128) INT64_MAX * NANO)

static const struct {
        const char *suffix;
        unsigned binary_shift;   /* multiply by 2^shift */
        int decimal_exp;         /* multiply by 10^exp */
} suffixes[] = {
        { "Ki", 10, 0 }, { "Mi", 20, 0 }, { "Gi", 30, 0 },
        { "Ti", 40, 0 }, { "Pi", 50, 0 }, { "Ei", 60, 0 },
        { "n", 0, -9 }, { "u", 0, -6 }, { "m", 0, -3 }, { "", 0, 0 },
        { "k", 0, 3 }, { "M", 0, 6 }, { "G", 0, 9 },
        { "T", 0, 12 }, { "P", 0, 15 }, { "E", 0, 18 },
};

static int out_of_range(GError **error, const char *s) {
        return ev_error_set(error, ERANGE, "quantity \"%s\" is out of range: the largest is "
                            "9223372036854775807 (8Ei - 1)", s);
}

static int invalid(GError **error, const char *s) {
        return ev_error_set(error, EINVAL,
                            "quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"%s\")", s);
}

int quantity_parse(const char *s, Quantity *ret, GError **error) {
        const char *p = s;
        unsigned __int128 digits = 0;
        int scale = 0;           /* value = digits * 10^scale before the suffix */
        bool negative = false, any_digit = false, seen_dot = false, inexact = false;
        unsigned binary_shift = 0;
        int exp10 = 0;

        if (!s || !*s)
                return ev_error_set(error, EINVAL, "quantity must not be empty");
        if (strlen(s) > MAX_QUANTITY_LEN)
                return ev_error_set(error, EINVAL, "quantity \"%.16s...\" is too long", s);

        if (*p == '+' || *p == '-')
                negative = *p++ == '-';

        for (; *p; p++) {
                if (*p == '.') {
                        if (seen_dot)
                                return invalid(error, s);
                        seen_dot = true;
                        continue;
                }
                if (!g_ascii_isdigit(*p))
                        break;
                any_digit = true;
                /* Keep at most 36 significant digits; beyond that the digits
                 * only matter below nano precision or overflow anyway. */
                if (digits < (unsigned __int128) 1 << 120) {
                        digits = digits * 10 + (unsigned) (*p - '0');
                        if (seen_dot)
                                scale--;
                } else if (!seen_dot)
                        scale++;
                else if (*p != '0')
                        inexact = true;
        }
        if (!any_digit)
                return invalid(error, s);

        /* Suffix: exponent form first ("e3", "E-2"), then SI/binary. */
        bool exponent = (*p == 'e' || *p == 'E') &&
                        (g_ascii_isdigit(p[1]) || ((p[1] == '+' || p[1] == '-') && g_ascii_isdigit(p[2])));
        if (exponent) {
                char *end;
                long e = strtol(p + 1, &end, 10);
                if (*end)
                        return invalid(error, s);
                if (e > 40 || e < -40)
                        return ev_error_set(error, ERANGE, "quantity \"%s\" is out of range: the exponent must be "
                                            "between -40 and 40", s);
                exp10 = (int) e;
        } else {
                size_t i;
                for (i = 0; i < G_N_ELEMENTS(suffixes); i++)
                        if (strcmp(p, suffixes[i].suffix) == 0)
                                break;
                if (i >= G_N_ELEMENTS(suffixes))
                        return invalid(error, s);
                binary_shift = suffixes[i].binary_shift;
                exp10 = suffixes[i].decimal_exp;
        }

        /* nano = digits * 10^(scale + exp10 + 9) * 2^shift, rounded up. */
        int e = scale + exp10 + 9;
        unsigned __int128 v = digits;
        for (; e > 0; e--) {
                if (v > NANO_LIMIT)
                        return out_of_range(error, s);
                v *= 10;
        }
        for (; e < 0; e++) {
                if (v % 10)
                        inexact = true;
                v /= 10;
        }
        for (unsigned i = 0; i < binary_shift; i++) {
                if (v > NANO_LIMIT)
                        return out_of_range(error, s);
                v <<= 1;
        }
        if (inexact)
                v++;
        if (v > NANO_LIMIT)
                return out_of_range(error, s);

        ret->negative = negative && v != 0;
        ret->nano = v;
        return 0;
}

static int scaled(const Quantity *q, unsigned long long divisor, int64_t *ret) {
        unsigned __int128 whole = q->nano / divisor;

        if (!q->negative && q->nano % divisor)
                whole++;         /* round up, toward +infinity */
        if (whole > (unsigned __int128) INT64_MAX)
                return -ERANGE;
        *ret = q->negative ? -(int64_t) whole : (int64_t) whole;
        return 0;
}

int quantity_to_int64(const Quantity *q, int64_t *ret) {
        return scaled(q, NANO, ret);
}

int quantity_to_milli(const Quantity *q, int64_t *ret) {
        return scaled(q, NANO / 1000, ret);
}

int quantity_parse_int64(const char *s, int64_t *ret, GError **error) {
        Quantity q;
        int r;

        r = quantity_parse(s, &q, error);
        if (r < 0)
                return r;
        r = quantity_to_int64(&q, ret);
        if (r < 0)
                return out_of_range(error, s);
        return 0;
}
