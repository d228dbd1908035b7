/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The small parsers of untrusted strings: quantities, label selectors,
 * names and keys, docker configs (imagePullSecret). */
#include "imagecache.h"
#include "labelselector.h"
#include "quantity.h"
#include "util.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *s = g_strndup((const char *) data, size);
        g_autoptr(LabelSelector) sel = NULL;
        g_autoptr(JsonObject) labels = json_object_new();
        Quantity q;
        int64_t v;
        size_t n;

        if (quantity_parse(s, &q, NULL) == 0) {
                (void) quantity_to_int64(&q, &v);
                (void) quantity_to_milli(&q, &v);
        }
        if (label_selector_parse(s, &sel, NULL) == 0) {
                json_object_set_string_member(labels, "app", "web");
                (void) label_selector_matches(sel, labels);
                (void) label_selector_matches(sel, NULL);
        }
        (void) validate_dns1123_label(s, NULL);
        (void) validate_dns1123_subdomain(s, NULL);
        (void) validate_qualified_name(s, NULL);
        (void) validate_label_value(s, NULL);
        (void) validate_config_key(s, NULL);
        (void) validate_base64(s, &n, NULL);
        g_autofree char *user = NULL, *password = NULL;
        if (imagecache_docker_credentials(s, size, "docker://registry:5000/x", &user, &password, NULL) == 0)
                g_assert((user == NULL) == (password == NULL));
        return 0;
}
