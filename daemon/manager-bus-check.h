/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

/* org.smapsaudit.Auditor1.Check; userdata is the Manager. */
int bus_method_check(sd_bus_message *message, void *userdata, sd_bus_error *error);
