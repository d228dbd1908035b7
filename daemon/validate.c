/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate.h"
#include "util.h"

#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253
#define QUALIFIED_NAME_MAX 63
#define LABEL_VALUE_MAX 63
#define CONFIG_KEY_MAX 253

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return g_ascii_isalnum(c);
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over [s, s+n) */
static bool match_label(const char *s, size_t n) {
        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_lower_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

int validate_dns1123_label(const char *s, GError **error) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return ev_error_set(error, EINVAL, "must not be empty");
        if (n > DNS1123_LABEL_MAX)
                return ev_error_set(error, EINVAL, "must be no more than %d characters", DNS1123_LABEL_MAX);
        if (!match_label(s, n))
                return ev_error_set(error, EINVAL,
                                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                                    "'-', and must start and end with an alphanumeric character (e.g. 'my-name', or "
                                    "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'), got "
                                    "\"%s\"", s);
        return 0;
}

int validate_dns1123_subdomain(const char *s, GError **error) {
        size_t n = s ? strlen(s) : 0;
        const char *p, *dot;

        if (n == 0)
                return ev_error_set(error, EINVAL, "must not be empty");
        if (n > DNS1123_SUBDOMAIN_MAX)
                return ev_error_set(error, EINVAL, "must be no more than %d characters", DNS1123_SUBDOMAIN_MAX);
        for (p = s;; p = dot + 1) {
                dot = strchr(p, '.');
                size_t len = dot ? (size_t) (dot - p) : strlen(p);
                if (!match_label(p, len))
                        return ev_error_set(error, EINVAL,
                                            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                            "characters, '-' or '.', and must start and end with an alphanumeric "
                                            "character (e.g. 'example.com', regex used for validation is "
                                            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), got "
                                            "\"%s\"", s);
                if (!dot)
                        break;
        }
        return 0;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool match_name_part(const char *s, size_t n) {
        if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
                        return false;
        return true;
}

int validate_qualified_name(const char *s, GError **error) {
        const char *slash, *name;
        size_t n;

        if (isempty(s))
                return ev_error_set(error, EINVAL, "name part must be non-empty");
        slash = strchr(s, '/');
        name = s;
        if (slash) {
                g_autofree char *prefix = g_strndup(s, slash - s);
                g_autoptr(GError) e = NULL;
                if (isempty(prefix))
                        return ev_error_set(error, EINVAL, "prefix part must be non-empty (got \"%s\")", s);
                if (validate_dns1123_subdomain(prefix, &e) < 0)
                        return ev_error_set(error, EINVAL, "prefix part %s", e->message);
                name = slash + 1;
        }
        n = strlen(name);
        if (n == 0)
                return ev_error_set(error, EINVAL, "name part must be non-empty (got \"%s\")", s);
        if (n > QUALIFIED_NAME_MAX)
                return ev_error_set(error, EINVAL, "name part must be no more than %d characters (got \"%s\")",
                                    QUALIFIED_NAME_MAX, s);
        if (!match_name_part(name, n))
                return ev_error_set(error, EINVAL,
                                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                                    "start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or "
                                    "'123-abc', regex used for validation is "
                                    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), got \"%s\"", s);
        return 0;
}

int validate_label_value(const char *s, GError **error) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return 0;
        if (n > LABEL_VALUE_MAX)
                return ev_error_set(error, EINVAL, "must be no more than %d characters", LABEL_VALUE_MAX);
        if (!match_name_part(s, n))
                return ev_error_set(error, EINVAL,
                                    "a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                    "'_' or '.', and must start and end with an alphanumeric character (e.g. "
                                    "'MyValue', or 'my_value', or '12345', regex used for validation is "
                                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), got \"%s\"", s);
        return 0;
}

int validate_config_key(const char *s, GError **error) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return ev_error_set(error, EINVAL, "key must not be empty");
        if (n > CONFIG_KEY_MAX)
                return ev_error_set(error, EINVAL, "key must be no more than %d characters", CONFIG_KEY_MAX);
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
                        return ev_error_set(error, EINVAL,
                                            "a valid config key must consist of alphanumeric characters, '-', '_' or "
                                            "'.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for "
                                            "validation is '[-._a-zA-Z0-9]+'), got \"%s\"", s);
        if (streq(s, ".") || streq(s, "..") || g_str_has_prefix(s, ".."))
                return ev_error_set(error, EINVAL, "key must not be '.' or '..' or start with '..' (got \"%s\")", s);
        return 0;
}

int validate_uuid(const char *s, GError **error) {
        if (!s || !g_uuid_string_is_valid(s))
                return ev_error_set(error, EINVAL, "must be a UUID (got \"%s\")", s ? s : "");
        return 0;
}

static int b64_value(char c) {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
}

int validate_base64(const char *s, size_t *ret_len, GError **error) {
        size_t n = strlen(s), pad = 0;

        if (n % 4 != 0)
                return ev_error_set(error, EINVAL, "illegal base64 data: length %zu is not a multiple of 4", n);
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '=') {
                        /* Padding only in the last two positions, and only at the end. */
                        if (i < n - 2 || (i == n - 2 && s[n - 1] != '='))
                                return ev_error_set(error, EINVAL, "illegal base64 data at input byte %zu", i);
                        pad++;
                } else if (b64_value(s[i]) < 0)
                        return ev_error_set(error, EINVAL, "illegal base64 data at input byte %zu", i);
        }
        if (ret_len)
                *ret_len = n / 4 * 3 - pad;
        return 0;
}

/* Go's durations as Kubernetes writes them: "5m0s", "90s", "1h". */
int64_t duration_usec(const char *s) {
        int64_t total = 0;
        if (isempty(s))
                return -1;
        while (*s) {
                char *end;
                double v = g_ascii_strtod(s, &end);
                if (end == s)
                        return -1;
                if (g_str_has_prefix(end, "ms"))
                        total += (int64_t) (v * 1000), end += 2;
                else if (*end == 'h')
                        total += (int64_t) (v * 3600e6), end++;
                else if (*end == 'm')
                        total += (int64_t) (v * 60e6), end++;
                else if (*end == 's')
                        total += (int64_t) (v * 1e6), end++;
                else
                        return -1;
                s = end;
        }
        return total;
}
