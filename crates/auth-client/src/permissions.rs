//! Roles and the permissions they grant. Roles are per tenant (a user's roles live on the
//! user row of that tenant); permissions are strings checked by services.

/// The roles a tenant member can hold, most to least privileged.
pub const ROLES: &[&str] = &["admin", "manager", "developer", "viewer"];

pub const AGENTS_READ: &str = "agents:read";
pub const AGENTS_WRITE: &str = "agents:write";
pub const AGENTS_EXECUTE: &str = "agents:execute";
pub const SCHEDULES_READ: &str = "schedules:read";
pub const SCHEDULES_WRITE: &str = "schedules:write";
pub const WEBHOOKS_READ: &str = "webhooks:read";
pub const WEBHOOKS_MANAGE: &str = "webhooks:manage";
pub const COSTS_READ: &str = "costs:read";
pub const COSTS_MANAGE: &str = "costs:manage";
pub const USERS_READ: &str = "users:read";
pub const USERS_MANAGE: &str = "users:manage";
pub const API_KEYS_MANAGE: &str = "api_keys:manage";

/// Every permission, in a stable order.
pub const ALL: &[&str] = &[
    AGENTS_READ,
    AGENTS_WRITE,
    AGENTS_EXECUTE,
    SCHEDULES_READ,
    SCHEDULES_WRITE,
    WEBHOOKS_READ,
    WEBHOOKS_MANAGE,
    COSTS_READ,
    COSTS_MANAGE,
    USERS_READ,
    USERS_MANAGE,
    API_KEYS_MANAGE,
];

/// The service clients auth can issue service tokens to, each with its fixed scopes. A client
/// is enabled by configuring a secret for it in the auth service (`TEMPONEST_SERVICE_CLIENTS`).
pub const SERVICE_CLIENTS: &[(&str, &[&str])] = &[("scheduler", &[AGENTS_READ, AGENTS_EXECUTE])];

/// The fixed scopes of a known service client; `None` for an unknown client.
pub fn service_scopes(client: &str) -> Option<&'static [&'static str]> {
    SERVICE_CLIENTS
        .iter()
        .find(|(name, _)| *name == client)
        .map(|(_, scopes)| *scopes)
}

/// Permissions granted by one role.
pub fn for_role(role: &str) -> &'static [&'static str] {
    match role {
        "admin" => ALL,
        "manager" => &[
            AGENTS_READ,
            AGENTS_WRITE,
            AGENTS_EXECUTE,
            SCHEDULES_READ,
            SCHEDULES_WRITE,
            WEBHOOKS_READ,
            WEBHOOKS_MANAGE,
            COSTS_READ,
            COSTS_MANAGE,
            USERS_READ,
            API_KEYS_MANAGE,
        ],
        "developer" => &[
            AGENTS_READ,
            AGENTS_WRITE,
            AGENTS_EXECUTE,
            SCHEDULES_READ,
            SCHEDULES_WRITE,
            WEBHOOKS_READ,
            WEBHOOKS_MANAGE,
            COSTS_READ,
            API_KEYS_MANAGE,
        ],
        "viewer" => &[AGENTS_READ, SCHEDULES_READ, WEBHOOKS_READ, COSTS_READ],
        _ => &[],
    }
}

/// The union of the roles' permissions, in the stable order of [`ALL`].
pub fn for_roles<S: AsRef<str>>(roles: &[S]) -> Vec<String> {
    ALL.iter()
        .filter(|p| roles.iter().any(|r| for_role(r.as_ref()).contains(p)))
        .map(|p| (*p).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_has_every_permission_and_viewer_only_reads() {
        assert_eq!(for_roles(&["admin"]).len(), ALL.len());
        assert!(for_roles(&["viewer"]).iter().all(|p| p.ends_with(":read")));
    }

    #[test]
    fn the_scheduler_may_read_and_execute_agents_and_unknown_clients_have_no_scopes() {
        assert_eq!(
            service_scopes("scheduler"),
            Some(&[AGENTS_READ, AGENTS_EXECUTE][..])
        );
        assert_eq!(service_scopes("root"), None);
    }

    #[test]
    fn unknown_roles_grant_nothing() {
        assert!(for_roles(&["root"]).is_empty());
    }
}
