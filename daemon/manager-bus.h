/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's face on the system bus: org.smapsaudit.Auditor1's methods and properties. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-signals.h"
#include "manager.h"

int manager_bus_connect(Manager *m);
