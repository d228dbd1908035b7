/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kind.h"

/* KubeVirt's VirtualMachineClone (clone.kubevirt.io): a snapshot and a
 * restore to a new VM with an identity of its own (clone.c). */
extern const KindInfo kind_vmclone;
