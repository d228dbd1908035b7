/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one-pass readers (qcow2, streamOptimized vmdk, vdi/vhd/vhdx) on arbitrary bytes:
 * the header, then the stream fed in pieces of a size the input picks.
 * Oracles: nothing is written past the virtual size, nothing spilled past
 * the bytes fed, every refusal says why. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "mapped.h"
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

/* vdi, vhd, vhdx: the tables from the input's first bytes (when it holds
 * as many as they ask), then the input as the stream. */
static void mapped(ImageFormat fmt, const uint8_t *data, size_t size) {
        MappedImage m = { 0 };
        uint64_t front = 0;
        char *error = NULL;
        int r = 0;
        for (int i = 0; i < 3 && r == 0 && (i == 0 || front <= size); i++)
                r = mapped_plan(fmt, data, size, &front, &error);
        if (r == 0 && front <= size)
                r = mapped_map(fmt, data, size, 64u << 20, &m, &error);
        else if (r == 0)
                r = 1;
        if (r < 0 && (!error || !*error))
                abort();
        g_free(error);
        error = NULL;
        if (r != 0 || m.size > (64u << 20)) {
                mapped_image_clear(&m);
                return;
        }
        uint64_t vsize = m.size;
        int target = memfd_create("target", MFD_CLOEXEC);
        if (target < 0)
                abort();
        MappedStream *s = mapped_stream_new(&m, target, 1u << 20);
        size_t step = step_of(data, size);
        for (size_t off = 0; off < size && r == 0; off += step)
                r = mapped_stream_feed(s, data + off, MIN(step, size - off), &error);
        if (r == 0)
                r = mapped_stream_finish(s, &error);
        if (r < 0 && (!error || !*error))
                abort();
        g_free(error);
        mapped_stream_free(s);
        check_size(target, vsize);
        close(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Qcow2Header h;
        char *error = NULL;
        vmdk(data, size);
        mapped(IMAGE_VDI, data, size);
        mapped(IMAGE_VHD, data, size);
        mapped(IMAGE_VHDX, data, size);
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
