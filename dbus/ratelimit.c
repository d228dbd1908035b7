/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-caller rate limits: a token bucket per unique bus name, checked by
 * a filter before any method is dispatched, so a client that floods calls
 * gets LimitExceeded errors at once instead of a growing backlog.  Signals
 * and replies pass; so do the bus driver's and our own messages.
 *
 * A call costs one token, and a large reply more: one token for every
 * BYTES_PER_TOKEN bytes the daemon produced for it (charged once it is
 * built, so the bucket may go into debt), so that a client pulling large
 * Lists is held back like one making as many small calls, and the loop's
 * time stays shared among clients. */
#include <time.h>

#include "bus-calls.h"
#include "bus-error.h"
#include "bus.h"
#include "util.h"

#define PRUNE_AT 1024
#define BYTES_PER_TOKEN (16u * 1024)

typedef struct Bucket {
        double tokens;
        uint64_t last_usec;
} Bucket;

struct RateLimit {
        Daemon *d;
        double rate, burst;
        GHashTable *buckets;            /* unique name -> Bucket */
};

static uint64_t now_usec(void) {
        return (uint64_t) g_get_monotonic_time();
}

static void refill(RateLimit *rl, Bucket *b, uint64_t now) {
        b->tokens = MIN(rl->burst, b->tokens + (double) (now - b->last_usec) / 1e6 * rl->rate);
        b->last_usec = now;
}

static void prune(RateLimit *rl, uint64_t now) {
        GHashTableIter it;
        Bucket *b;
        g_hash_table_iter_init(&it, rl->buckets);
        while (g_hash_table_iter_next(&it, NULL, (void **) &b)) {
                refill(rl, b, now);
                if (b->tokens >= rl->burst)
                        g_hash_table_iter_remove(&it);  /* idle: as good as new */
        }
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        RateLimit *rl = userdata;
        const char *sender = sd_bus_message_get_sender(m);
        uint64_t now = now_usec();
        Bucket *b;

        if (!sd_bus_message_is_method_call(m, NULL, NULL) || !sender || streq(sender, "org.freedesktop.DBus"))
                return 0;
        b = g_hash_table_lookup(rl->buckets, sender);
        if (!b) {
                if (g_hash_table_size(rl->buckets) >= PRUNE_AT)
                        prune(rl, now);
                b = g_new0(Bucket, 1);
                b->tokens = rl->burst;
                b->last_usec = now;
                g_hash_table_insert(rl->buckets, g_strdup(sender), b);
        }
        refill(rl, b, now);
        if (b->tokens < 1.0) {
                (void) sd_bus_reply_method_errorf(m, BUS_ERROR_LIMIT_EXCEEDED,
                                                  "too many calls from %s: at most %.0f a second (bursts of %.0f), "
                                                  "a reply counting one more call for every %u KiB; slow down",
                                                  sender, rl->rate, rl->burst, BYTES_PER_TOKEN / 1024);
                bus_calls_finish(rl->d->bus_calls, m, BUS_ERROR_LIMIT_EXCEEDED);
                return 1;       /* answered: not dispatched */
        }
        b->tokens -= 1.0;
        return 0;
}

void bus_rate_limit_charge(RateLimit *rl, sd_bus_message *m, size_t bytes) {
        const char *sender = m ? sd_bus_message_get_sender(m) : NULL;
        Bucket *b = rl && sender ? g_hash_table_lookup(rl->buckets, sender) : NULL;

        if (b)          /* no bucket: not a counted caller (the daemon itself, the bus) */
                b->tokens -= (double) (bytes / BYTES_PER_TOKEN);
}

int bus_rate_limit_install(Daemon *d, unsigned per_second, unsigned burst) {
        RateLimit *rl;

        d->ratelimit = NULL;
        if (per_second == 0)
                return 0;       /* off */
        rl = g_new0(RateLimit, 1);
        rl->d = d;
        rl->rate = per_second;
        rl->burst = MAX(burst, 1u);
        rl->buckets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        /* the filter lives as long as the bus; so does rl */
        d->ratelimit = rl;
        return sd_bus_add_filter(d->bus, NULL, on_message, rl);
}
