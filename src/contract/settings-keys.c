/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "contract/settings-keys.h"

const SettingKeyInfo setting_keys[_SETTING_KEY_MAX] = {
        [SETTING_ENABLED] = {"Enabled", "b"},
        [SETTING_PERSISTENT] = {"Persistent", "b"},
        [SETTING_ENDPOINT_MARK] = {"EndpointMark", "u"},
        [SETTING_ALLOW_LAN] = {"AllowLan", "b"},
        [SETTING_ALLOW_DHCP] = {"AllowDhcp", "b"},
        /* Added to the contract: not only root's sockets may reach the endpoints. */
        [SETTING_ENDPOINT_ANY_USER] = {"EndpointAnyUser", "b"},
        /* Added to the contract: per-application rules (docs/per-app.md). */
        [SETTING_SCOPE] = {"Scope", "s"},
        [SETTING_TUNNELS] = {"Tunnels", "as"},
        [SETTING_ENDPOINTS] = {"Endpoints", "a(sqs)"},
        [SETTING_EXEMPT_CGROUPS] = {"ExemptCgroups", "as"},
        [SETTING_SCOPED_CGROUPS] = {"ScopedCgroups", "as"},
};

int setting_key_from_name(const char *name) {
        for (int k = 0; k < _SETTING_KEY_MAX; k++)
                if (strcmp(setting_keys[k].name, name) == 0)
                        return k;
        return -ENOENT;
}
