/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one-pass readers (qcow2, streamOptimized vmdk) on arbitrary bytes:
 * the header, then the stream fed in pieces of a size the input picks.
 * Oracles: nothing is written past the virtual size, nothing spilled past
 * the bytes fed, every refusal says why. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "qcow2.h"
#include "vmdk.h"

static size_t step_of(const uint8_t *data, size_t size) {
        return size > 0 ? 1 + data[size - 1] * 61u : 1;
}

static void check_size(int fd, uint64_t max) {
        struct stat st;
        if (fstat(fd, &st) < 0 || (uint64_t) st.st_size > max)
                abort();
}

static void vmdk(const uint8_t *data, size_t size) {
        VmdkHeader h;
        char *error = NULL;
        int r = vmdk_header_parse(data, size, &h, &error);
        g_free(error);
        error = NULL;
        if (r != 0 || h.capacity > (64u << 20))
                return;
        int target = memfd_create("target", MFD_CLOEXEC);
        if (target < 0)
                abort();
        VmdkStream *s = vmdk_stream_new(&h, target, 1u << 20);
        size_t step = step_of(data, size);
        for (size_t off = 0; off < size && r == 0; off += step)
                r = vmdk_stream_feed(s, data + off, MIN(step, size - off), &error);
        if (r == 0)
                r = vmdk_stream_finish(s, &error);
        if (r < 0 && (!error || !*error))
                abort();
        g_free(error);
        vmdk_stream_free(s);
        check_size(target, h.capacity);
        close(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Qcow2Header h;
        char *error = NULL;
        vmdk(data, size);
        int r = qcow2_header_parse(data, size, &h, &error);
        g_free(error);
        error = NULL;
        if (r != 0 || h.size > (64u << 20))
                return 0;
        int target = memfd_create("target", MFD_CLOEXEC), spill = memfd_create("spill", MFD_CLOEXEC);
        if (target < 0 || spill < 0)
                abort();
        Qcow2Stream *s = qcow2_stream_new(&h, target, spill, 1u << 20);
        size_t step = step_of(data, size);
        r = 0;
        for (size_t off = 0; off < size && r == 0; off += step)
                r = qcow2_stream_feed(s, data + off, MIN(step, size - off), &error);
        if (r == 0)
                r = qcow2_stream_finish(s, &error);
        if (r < 0 && (!error || !*error))
                abort();        /* every refusal says why */
        g_free(error);
        qcow2_stream_free(s);
        check_size(target, h.size);
        check_size(spill, size);
        close(target);
        close(spill);
        return 0;
}
