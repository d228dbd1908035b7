/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Format and compression detection, from the bytes, never the name. */
#include <glib.h>
#include <string.h>

#include "format.h"

static void test_compression(void) {
        g_assert_cmpint(detect_compression((const unsigned char *) "\x1f\x8b\x08\x00", 4), ==, COMPRESSION_GZIP);
        g_assert_cmpint(detect_compression((const unsigned char *) "\xfd" "7zXZ\0\0", 8), ==, COMPRESSION_XZ);
        g_assert_cmpint(detect_compression((const unsigned char *) "\x28\xb5\x2f\xfd\x00", 5), ==, COMPRESSION_ZSTD);
        g_assert_cmpint(detect_compression((const unsigned char *) "BZh91AY&", 8), ==, COMPRESSION_BZIP2);
        g_assert_cmpint(detect_compression((const unsigned char *) "BZhx", 4), ==, COMPRESSION_NONE);
        g_assert_cmpint(detect_compression((const unsigned char *) "QFI\xfb", 4), ==, COMPRESSION_NONE);
        g_assert_cmpint(detect_compression((const unsigned char *) "\x1f", 1), ==, COMPRESSION_NONE);
        g_assert_cmpint(detect_compression(NULL, 0), ==, COMPRESSION_NONE);
        g_assert_cmpstr(compression_name(COMPRESSION_ZSTD), ==, "zstd");
}

static void test_formats(void) {
        unsigned char buf[4096] = { 0 };

        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_RAW);
        memcpy(buf, "QFI\xfb\0\0\0\3", 8);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_QCOW2);
        memcpy(buf, "QFI\xfb\0\0\0\1", 8);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_QCOW);
        memcpy(buf, "KDMV\1\0\0\0", 8);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_VMDK);
        memcpy(buf, "# Disk DescriptorFile", 21);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_VMDK);
        memcpy(buf, "vhdxfile", 8);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_VHDX);
        memcpy(buf, "conectix", 8);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_VHD);
        memset(buf, 0, sizeof buf);
        memcpy(buf, "<<< Oracle VM VirtualBox Disk Image >>>", 39);
        memcpy(buf + 0x40, "\x7f\x10\xda\xbe", 4);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_VDI);
        /* short buffers never read past their end */
        g_assert_cmpint(detect_format((const unsigned char *) "QFI", 3), ==, IMAGE_RAW);
        g_assert_cmpint(detect_format(buf, 0x42), ==, IMAGE_RAW);
        /* an ISO is raw bytes */
        memset(buf, 0, sizeof buf);
        g_assert_cmpint(detect_format(buf, sizeof buf), ==, IMAGE_RAW);
        g_assert_cmpstr(image_format_name(IMAGE_VHD), ==, "vpc");
}

/* What is written of a buffer: its runs of non-zero blocks, the short
 * last block included; zero blocks skipped. */
static void test_data_runs(void) {
        unsigned char buf[10 * 512] = { 0 };
        size_t pos = 0, a, b;

        g_assert_true(all_zero(buf, sizeof buf));
        g_assert_false(next_data_run(buf, sizeof buf, 512, &pos, &a, &b));
        g_assert_cmpuint(pos, ==, sizeof buf);

        buf[512] = 1;                   /* block 1 */
        buf[2 * 512 + 511] = 1;         /* block 2, last byte: joins block 1 */
        buf[6 * 512 + 3] = 1;           /* block 6 alone */
        buf[sizeof buf - 1] = 1;        /* the last, short block of a 5000-byte buffer */
        pos = 0;
        g_assert_true(next_data_run(buf, sizeof buf, 512, &pos, &a, &b));
        g_assert_cmpuint(a, ==, 512);
        g_assert_cmpuint(b, ==, 3 * 512);
        g_assert_true(next_data_run(buf, sizeof buf, 512, &pos, &a, &b));
        g_assert_cmpuint(a, ==, 6 * 512);
        g_assert_cmpuint(b, ==, 7 * 512);
        g_assert_true(next_data_run(buf, sizeof buf, 512, &pos, &a, &b));
        g_assert_cmpuint(a, ==, 9 * 512);
        g_assert_cmpuint(b, ==, sizeof buf);
        g_assert_false(next_data_run(buf, sizeof buf, 512, &pos, &a, &b));

        pos = 0;
        g_assert_true(next_data_run(buf, 5000, 4096, &pos, &a, &b));   /* 4096 + a short 904 */
        g_assert_cmpuint(a, ==, 0);
        g_assert_cmpuint(b, ==, 4096);
        g_assert_false(next_data_run(buf, 5000, 4096, &pos, &a, &b)); /* 4096..4999 is zero */
        g_assert_false(all_zero(buf, 5000));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/format/compression", test_compression);
        g_test_add_func("/format/images", test_formats);
        g_test_add_func("/format/data-runs", test_data_runs);
        return g_test_run();
}
