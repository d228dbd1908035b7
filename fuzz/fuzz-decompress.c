/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The importer's stream chain on arbitrary bytes: compression detection,
 * every decompressor (whatever the magic says), format detection. */
#include <sys/mman.h>
#include <unistd.h>

#include "format.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256 * 1024)
                return 0;
        (void) detect_format(data, size);
        for (Compression c = COMPRESSION_GZIP; c <= COMPRESSION_BZIP2; c++) {
                int fd = memfd_create("fuzz", MFD_CLOEXEC);
                unsigned char buf[65536];
                if (fd < 0 || write(fd, data, size) != (ssize_t) size) {
                        if (fd >= 0)
                                close(fd);
                        return 0;
                }
                lseek(fd, 0, SEEK_SET);
                Reader *r = decompress_reader_new(fd_reader_new(fd, 0), c, 16u << 20);
                ssize_t n;
                while ((n = reader_read(r, buf, sizeof buf)) > 0)
                        ;
                (void) reader_error(r, NULL);
                reader_free(r);
                close(fd);
        }
        (void) detect_compression(data, size);
        return 0;
}
