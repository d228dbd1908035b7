/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which registry hosts count as this machine (a TLS failure then falls
 * back to plain HTTP): the exact host part, never a prefix. */
#include <glib.h>
#include <string.h>

#include "registry.h"

static void test_loopback(void) {
        const char *yes[] = { "localhost", "localhost:5000", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:5000",
                              "127.255.3.4:443", "[::1]", "[::1]:5000" };
        const char *no[] = { "localhost.example.com", "localhost.example.com:5000", "localhostx",
                             "127.example.com", "127.0.0.1.example.com", "127.0.0.1.nip.io:5000",
                             "127.0.0", "127.0.0.256", "128.0.0.1", "1127.0.0.1", "[::1].example.com",
                             "[::1]x", "[::2]:5000", "localhost:", "localhost:50a0", "localhost:123456",
                             "registry:5000", "::1:5000", "" };

        for (size_t i = 0; i < G_N_ELEMENTS(yes); i++)
                g_assert_true(registry_loopback(yes[i]));
        for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
                if (registry_loopback(no[i]))
                        g_error("\"%s\" taken for loopback", no[i]);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/registry/loopback", test_loopback);
        return g_test_run();
}
