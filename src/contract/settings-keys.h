/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The settings of the D-Bus contract (docs/dbus-api.md): the keys of Apply and GetSettings, the
 * D-Bus type of each, and the limits. One table for the daemon, killswitchctl and the D-Bus
 * fuzzer. */

#define TUNNELS_MAX 32
#define ENDPOINTS_MAX 65536

/* In the order GetSettings replies: the scalars, then the lists. */
typedef enum SettingKey {
        SETTING_ENABLED,
        SETTING_PERSISTENT,
        SETTING_ENDPOINT_MARK,
        SETTING_ALLOW_LAN,
        SETTING_ALLOW_DHCP,
        SETTING_ENDPOINT_ANY_USER,
        SETTING_SCOPE,
        SETTING_TUNNELS,
        SETTING_ENDPOINTS,
        SETTING_EXEMPT_CGROUPS,
        SETTING_SCOPED_CGROUPS,
        _SETTING_KEY_MAX,
} SettingKey;

typedef struct SettingKeyInfo {
        const char *name;      /* "Enabled" */
        const char *signature; /* "b" */
} SettingKeyInfo;

extern const SettingKeyInfo setting_keys[_SETTING_KEY_MAX];

/* The key called 'name' (case matters), or -ENOENT. */
int setting_key_from_name(const char *name);
