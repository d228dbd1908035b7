/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "bus-error.h"

static const struct {
        int code;
        const char *name;
} error_table[] = {
        { ENOENT,     BUS_ERROR_NOT_FOUND },
        { EEXIST,     BUS_ERROR_ALREADY_EXISTS },
        { EINVAL,     BUS_ERROR_INVALID },
        { ERANGE,     BUS_ERROR_INVALID },
        { ESTALE,     BUS_ERROR_CONFLICT },
        { EBUSY,      BUS_ERROR_CONFLICT },
        { EOPNOTSUPP, BUS_ERROR_NOT_SUPPORTED },
        { EPERM,      BUS_ERROR_FORBIDDEN },
        { EACCES,     BUS_ERROR_ACCESS_DENIED },
        { E2BIG,      BUS_ERROR_LIMIT_EXCEEDED },
        { EMSGSIZE,   BUS_ERROR_REPLY_TOO_LARGE },
};

int bus_error_set(sd_bus_error *ret, int r, const GError *error) {
        int code = r < 0 ? -r : r;
        const char *name = BUS_ERROR_FAILED;

        for (size_t i = 0; i < G_N_ELEMENTS(error_table); i++)
                if (error_table[i].code == code) {
                        name = error_table[i].name;
                        break;
                }
        sd_bus_error_set(ret, name, error ? error->message : g_strerror(code));
        return r < 0 ? r : -r;
}
