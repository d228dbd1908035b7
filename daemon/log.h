/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "object.h"

/* A message about one object.  Under journald (systemd gives stderr to the
 * journal and says so in $JOURNAL_STREAM) the entry carries OBJECT_KIND,
 * OBJECT_NAMESPACE (empty for cluster-scoped kinds), OBJECT_NAME and
 * OBJECT_UID beside MESSAGE and PRIORITY, so `journalctl -u edgevirtd
 * OBJECT_NAME=web` finds it; elsewhere it is a line on stderr.  The text is
 * prefixed with "Kind namespace/name: ". */
void log_object(GLogLevelFlags level, const Object *o, const char *format, ...) G_GNUC_PRINTF(3, 4);
