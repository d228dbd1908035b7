/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one-pass qcow2 reader on arbitrary bytes: the header, then the
 * stream fed in pieces of a size the input picks.  Oracles: nothing is
 * written past the virtual size, nothing spilled past the bytes fed. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Qcow2Header h;
        char *error = NULL;
        int r = qcow2_header_parse(data, size, &h, &error);
        g_free(error);
        error = NULL;
        if (r != 0 || h.size > (64u << 20))
                return 0;
        int target = memfd_create("target", MFD_CLOEXEC), spill = memfd_create("spill", MFD_CLOEXEC);
        if (target < 0 || spill < 0)
                abort();
        Qcow2Stream *s = qcow2_stream_new(&h, target, spill, 1u << 20);
        size_t step = size > 0 ? 1 + data[size - 1] * 61u : 1;
        r = 0;
        for (size_t off = 0; off < size && r == 0; off += step)
                r = qcow2_stream_feed(s, data + off, MIN(step, size - off), &error);
        if (r == 0)
                r = qcow2_stream_finish(s, &error);
        if (r < 0 && (!error || !*error))
                abort();        /* every refusal says why */
        g_free(error);
        qcow2_stream_free(s);
        struct stat st;
        if (fstat(target, &st) < 0 || (uint64_t) st.st_size > h.size)
                abort();
        if (fstat(spill, &st) < 0 || (uint64_t) st.st_size > size)
                abort();
        close(target);
        close(spill);
        return 0;
}
