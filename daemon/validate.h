/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* Kubernetes' validation rules for names, label/annotation keys and values,
 * and data keys.  Each returns 0 or -EINVAL with an error whose message says
 * the rule (without the field path; callers prefix it). */
int validate_dns1123_label(const char *s, GError **error);
int validate_dns1123_subdomain(const char *s, GError **error);
int validate_qualified_name(const char *s, GError **error);     /* label/annotation keys */
int validate_label_value(const char *s, GError **error);
int validate_config_key(const char *s, GError **error);         /* Secret/ConfigMap keys */
int validate_uuid(const char *s, GError **error);

/* Strict RFC 4648 base64 (padding required, no whitespace); returns the
 * decoded length in *ret_len. */
int validate_base64(const char *s, size_t *ret_len, GError **error);
/* Go's durations as Kubernetes writes them ("5m0s", "90s", "1h"): microseconds, -1 when s is none. */
int64_t duration_usec(const char *s);
