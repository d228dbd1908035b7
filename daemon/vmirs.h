/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* KubeVirt's VirtualMachineInstanceReplicaSet: spec.replicas instances of
 * a template (kind_vmirs).  Its controller also watches instances without
 * a controller, which a set whose selector takes them adopts. */
void vmirs_controller_start(Model *m);
void vmirs_controller_stop(Model *m);
