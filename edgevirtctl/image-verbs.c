/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image cache (containerDisks): images, pull, rmi — crictl's words. */
#include <stdio.h>
#include <time.h>

#include <json-glib/json-glib.h>

#include "ctl.h"

#define PULL_TIMEOUT_USEC (3600ull * G_USEC_PER_SEC)

static char *ago(uint64_t usec) {
        gint64 s = (g_get_real_time() - (gint64) usec) / G_USEC_PER_SEC;
        if (usec == 0)
                return g_strdup("-");
        if (s < 120)
                return g_strdup_printf("%" G_GINT64_FORMAT "s", MAX(s, 0));
        if (s < 7200)
                return g_strdup_printf("%" G_GINT64_FORMAT "m", s / 60);
        if (s < 2 * 86400)
                return g_strdup_printf("%" G_GINT64_FORMAT "h", s / 3600);
        return g_strdup_printf("%" G_GINT64_FORMAT "d", s / 86400);
}

int verb_images(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        bool json = streq_ptr(c->output, "json");
        int r;

        if (argc >= 2 && streq(argv[1], "load"))
                return verb_images_load(c, argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "save"))
                return verb_images_save(c, argc - 1, argv + 1);
        if (argc != 1)
                return fail(_("usage: edgevirtctl images [-o json] | images load -i FILE [IMAGE] | "
                              "images save IMAGE -o FILE"));
        if (c->output && !json)
                return fail(_("-o: images prints a table or json"));
        r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "ListImages", &e, &reply, NULL);
        if (r < 0)
                return bus_fail(&e, r);
        if ((r = sd_bus_message_enter_container(reply, 'a', "(sasttttu)")) < 0)
                return fail("%s", g_strerror(-r));
        if (json)
                printf("[");
        else
                printf("%-50s %-19s %10s %10s %5s %9s\n", _("IMAGE"), _("DIGEST"), _("SIZE"), _("ON DISK"), _("USERS"),
                       _("LAST USED"));
        for (bool first = true; (r = sd_bus_message_enter_container(reply, 'r', "sasttttu")) > 0; first = false) {
                const char *digest, *ref;
                uint64_t vsize, bytes, pulled, used;
                uint32_t users;
                g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func(g_free);

                if ((r = sd_bus_message_read(reply, "s", &digest)) < 0 ||
                    (r = sd_bus_message_enter_container(reply, 'a', "s")) < 0)
                        return fail("%s", g_strerror(-r));
                while ((r = sd_bus_message_read(reply, "s", &ref)) > 0)
                        g_ptr_array_add(refs, g_strdup(ref));
                if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0 ||
                    (r = sd_bus_message_read(reply, "ttttu", &vsize, &bytes, &pulled, &used, &users)) < 0 ||
                    (r = sd_bus_message_exit_container(reply)) < 0)
                        return fail("%s", g_strerror(-r));
                if (json) {
                        g_autoptr(JsonBuilder) b = json_builder_new();
                        json_builder_begin_object(b);
                        json_builder_set_member_name(b, "digest");
                        json_builder_add_string_value(b, digest);
                        json_builder_set_member_name(b, "references");
                        json_builder_begin_array(b);
                        for (guint i = 0; i < refs->len; i++)
                                json_builder_add_string_value(b, refs->pdata[i]);
                        json_builder_end_array(b);
                        json_builder_set_member_name(b, "virtualSize");
                        json_builder_add_int_value(b, (gint64) vsize);
                        json_builder_set_member_name(b, "diskBytes");
                        json_builder_add_int_value(b, (gint64) bytes);
                        json_builder_set_member_name(b, "pulled");
                        json_builder_add_int_value(b, (gint64) pulled);
                        json_builder_set_member_name(b, "lastUsed");
                        json_builder_add_int_value(b, (gint64) used);
                        json_builder_set_member_name(b, "users");
                        json_builder_add_int_value(b, users);
                        json_builder_end_object(b);
                        g_autoptr(JsonNode) n = json_builder_get_root(b);
                        g_autofree char *text = json_to_string(n, FALSE);
                        printf("%s%s", first ? "" : ",", text);
                        continue;
                }
                g_autofree char *size = g_format_size_full(vsize, G_FORMAT_SIZE_IEC_UNITS);
                g_autofree char *on_disk = g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
                g_autofree char *when = ago(used);
                const char *name = refs->len ? refs->pdata[0] : "<none>";
                if (g_str_has_prefix(name, "docker://"))
                        name += strlen("docker://");
                printf("%-50s %-19.19s %10s %10s %5u %9s\n", name, digest, size, on_disk, users, when);
        }
        if (r < 0)
                return fail("%s", g_strerror(-r));
        if (json)
                printf("]\n");
        return 0;
}

int verb_pull(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *digest;
        int r;

        if (argc != 2)
                return fail(_("usage: edgevirtctl pull IMAGE   (host[:port]/repository[:tag|@digest])"));
        if ((r = sd_bus_message_new_method_call(c->bus, &m, NAME, ROOT, MANAGER, "PullImage")) < 0 ||
            (r = sd_bus_message_append(m, "s", argv[1])) < 0 || (r = sd_bus_message_append(m, "a{sv}", 0)) < 0)
                return fail("%s", g_strerror(-r));
        fprintf(stderr, _("pulling %s...\n"), argv[1]);
        r = sd_bus_call(c->bus, m, PULL_TIMEOUT_USEC, &e, &reply);
        if (r < 0)
                return bus_fail(&e, r);
        if ((r = sd_bus_message_read(reply, "s", &digest)) < 0)
                return fail("%s", g_strerror(-r));
        puts(digest);
        return 0;
}

int verb_rmi(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (argc < 2)
                return fail(_("usage: edgevirtctl rmi IMAGE|DIGEST..."));
        for (int i = 1; i < argc; i++) {
                r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "RemoveImage", &e, NULL, "s", argv[i]);
                if (r < 0)
                        return bus_fail(&e, r);
                printf(_("removed %s\n"), argv[i]);
        }
        return 0;
}
