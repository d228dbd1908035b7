/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/call: the wall time of one D-Bus call as an sd-bus client sees it
 * (edgevirtctl is one): sd-bus checks a reply's header when it arrives and
 * reads the body only when asked, so this is the daemon's and the bus'
 * time, not a client library's parser (Gio parses the whole body first:
 * 40-70 ms for a 1.7 MB GetManagedObjects on this machine).  The time
 * to walk every value of the reply (sd_bus_message_skip) is printed too.
 *
 *   bench-call ADDRESS ROUNDS GetManagedObjects
 *   bench-call ADDRESS ROUNDS List KIND NAMESPACE    (output json-compact)
 *
 * One call first, not counted; then one line per call: "WALL_MS WALK_MS".
 * Driven by bench/scale.py (bench/run-scale.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#define NAME "org.edgevirt.EdgeVirt1"
#define ROOT "/org/edgevirt/EdgeVirt1"

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int call(sd_bus *bus, char **argv, sd_bus_message **reply, sd_bus_error *e) {
        sd_bus_message *m = NULL;
        int r;

        if (strcmp(argv[3], "GetManagedObjects") == 0)
                r = sd_bus_message_new_method_call(bus, &m, NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                                                   "GetManagedObjects");
        else {
                r = sd_bus_message_new_method_call(bus, &m, NAME, ROOT, NAME ".Manager", "List");
                if (r >= 0)
                        r = sd_bus_message_append(m, "ssa{sv}", argv[4], argv[5], 1, "output", "s", "json-compact");
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, 120 * 1000 * 1000, e, reply);
        sd_bus_message_unref(m);
        return r;
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int rounds, r;

        if (argc < 4 || (strcmp(argv[3], "GetManagedObjects") != 0 && (strcmp(argv[3], "List") != 0 || argc < 6))) {
                fprintf(stderr, "usage: bench-call ADDRESS ROUNDS GetManagedObjects|List KIND NAMESPACE\n");
                return 2;
        }
        rounds = atoi(argv[2]);
        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, argv[1])) < 0 ||
            (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0) {
                fprintf(stderr, "bench-call: cannot connect to %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        for (int i = 0; i <= rounds; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                double t0 = now_ms();
                r = call(bus, argv, &reply, &e);
                double t1 = now_ms();
                if (r < 0) {
                        fprintf(stderr, "bench-call: %s: %s\n", argv[3], e.message ? e.message : strerror(-r));
                        return 1;
                }
                r = sd_bus_message_skip(reply, NULL);
                double t2 = now_ms();
                if (r < 0) {
                        fprintf(stderr, "bench-call: cannot read the reply: %s\n", strerror(-r));
                        return 1;
                }
                if (i > 0)
                        printf("%.2f %.2f\n", t1 - t0, t2 - t1);
                sd_bus_message_unref(reply);
                sd_bus_error_free(&e);
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}
