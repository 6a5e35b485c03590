//! Roles and the permissions they grant, as types. Roles are per tenant (a user's roles live on
//! the user row of that tenant); services check permissions.
//!
//! Both render as the strings clients know (`"admin"`, `"agents:read"`); an unknown string is
//! refused where it enters as input (422). In tokens and introspection answers, which another
//! version of the platform may have written during a rolling upgrade, unknown values are
//! dropped instead ([`known`]): a permission this version does not know cannot be checked by
//! it anyway. A [`Role`] is also an `sqlx` text type: user rows hold only known roles (the
//! `users_roles_known` constraint), so the auth service reads them as roles directly.

use serde::{Deserialize, Deserializer, Serialize};

/// Something a caller may be allowed to do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Permission {
    #[serde(rename = "agents:read")]
    AgentsRead,
    #[serde(rename = "agents:write")]
    AgentsWrite,
    #[serde(rename = "agents:execute")]
    AgentsExecute,
    #[serde(rename = "schedules:read")]
    SchedulesRead,
    #[serde(rename = "schedules:write")]
    SchedulesWrite,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    #[serde(rename = "costs:read")]
    CostsRead,
    #[serde(rename = "costs:manage")]
    CostsManage,
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "users:manage")]
    UsersManage,
    #[serde(rename = "api_keys:manage")]
    ApiKeysManage,
    #[serde(rename = "knowledge:read")]
    KnowledgeRead,
    #[serde(rename = "knowledge:write")]
    KnowledgeWrite,
}

/// Every permission, in a stable order (the order lists are rendered in).
pub const ALL: &[Permission] = &[
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
    KNOWLEDGE_READ,
    KNOWLEDGE_WRITE,
];

pub const AGENTS_READ: Permission = Permission::AgentsRead;
pub const AGENTS_WRITE: Permission = Permission::AgentsWrite;
pub const AGENTS_EXECUTE: Permission = Permission::AgentsExecute;
pub const SCHEDULES_READ: Permission = Permission::SchedulesRead;
pub const SCHEDULES_WRITE: Permission = Permission::SchedulesWrite;
pub const WEBHOOKS_READ: Permission = Permission::WebhooksRead;
pub const WEBHOOKS_MANAGE: Permission = Permission::WebhooksManage;
pub const COSTS_READ: Permission = Permission::CostsRead;
pub const COSTS_MANAGE: Permission = Permission::CostsManage;
pub const USERS_READ: Permission = Permission::UsersRead;
pub const USERS_MANAGE: Permission = Permission::UsersManage;
pub const API_KEYS_MANAGE: Permission = Permission::ApiKeysManage;
pub const KNOWLEDGE_READ: Permission = Permission::KnowledgeRead;
pub const KNOWLEDGE_WRITE: Permission = Permission::KnowledgeWrite;

impl Permission {
    /// The name clients know, e.g. `agents:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AgentsRead => "agents:read",
            Self::AgentsWrite => "agents:write",
            Self::AgentsExecute => "agents:execute",
            Self::SchedulesRead => "schedules:read",
            Self::SchedulesWrite => "schedules:write",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksManage => "webhooks:manage",
            Self::CostsRead => "costs:read",
            Self::CostsManage => "costs:manage",
            Self::UsersRead => "users:read",
            Self::UsersManage => "users:manage",
            Self::ApiKeysManage => "api_keys:manage",
            Self::KnowledgeRead => "knowledge:read",
            Self::KnowledgeWrite => "knowledge:write",
        }
    }

    /// The permission called `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role a caller holds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    Developer,
    Viewer,
    /// Carried by service tokens only; never assigned to a user.
    Service,
}

/// The roles a tenant member can hold, most to least privileged.
pub const ROLES: &[Role] = &[Role::Admin, Role::Manager, Role::Developer, Role::Viewer];

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::Developer => "developer",
            Self::Viewer => "viewer",
            Self::Service => "service",
        }
    }

    /// The assignable role called `name`, if there is one (`service` is not assignable).
    pub fn parse(name: &str) -> Option<Self> {
        ROLES.iter().copied().find(|r| r.as_str() == name)
    }

    /// What the role grants (a service's permissions come from its client's scopes).
    pub const fn grants(self) -> &'static [Permission] {
        match self {
            Self::Admin => ALL,
            Self::Manager => &[
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
                KNOWLEDGE_READ,
                KNOWLEDGE_WRITE,
            ],
            Self::Developer => &[
                AGENTS_READ,
                AGENTS_WRITE,
                AGENTS_EXECUTE,
                SCHEDULES_READ,
                SCHEDULES_WRITE,
                WEBHOOKS_READ,
                WEBHOOKS_MANAGE,
                COSTS_READ,
                API_KEYS_MANAGE,
                KNOWLEDGE_READ,
                KNOWLEDGE_WRITE,
            ],
            Self::Viewer => &[
                AGENTS_READ,
                SCHEDULES_READ,
                WEBHOOKS_READ,
                COSTS_READ,
                KNOWLEDGE_READ,
            ],
            Self::Service => &[],
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permissions among stored names (API-key scopes), unknown ones dropped.
pub fn permissions_from_names<S: AsRef<str>>(names: &[S]) -> Vec<Permission> {
    names
        .iter()
        .filter_map(|n| Permission::parse(n.as_ref()))
        .collect()
}

/// The service clients auth can issue service tokens to, each with its fixed scopes. A client
/// is enabled by configuring a secret for it in the auth service (`TEMPONEST_SERVICE_CLIENTS`).
/// `agents` reads knowledge collections for its `knowledge_search` tool.
pub const SERVICE_CLIENTS: &[(&str, &[Permission])] = &[
    ("scheduler", &[AGENTS_READ, AGENTS_EXECUTE]),
    ("agents", &[KNOWLEDGE_READ]),
];

/// The fixed scopes of a known service client; `None` for an unknown client.
pub fn service_scopes(client: &str) -> Option<&'static [Permission]> {
    SERVICE_CLIENTS
        .iter()
        .find(|(name, _)| *name == client)
        .map(|(_, scopes)| *scopes)
}

/// Permissions granted by one role.
pub fn for_role(role: Role) -> &'static [Permission] {
    role.grants()
}

/// The union of the roles' permissions, in the stable order of [`ALL`].
pub fn for_roles(roles: &[Role]) -> Vec<Permission> {
    ALL.iter()
        .copied()
        .filter(|p| roles.iter().any(|r| r.grants().contains(p)))
        .collect()
}

/// Deserializes a list of roles or permissions, dropping values this version does not know
/// (for tokens and introspection answers; see the module documentation).
pub fn known<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = Vec::<serde_json::Value>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_has_every_permission_and_viewer_only_reads() {
        assert_eq!(for_roles(&[Role::Admin]).len(), ALL.len());
        assert!(
            for_roles(&[Role::Viewer])
                .iter()
                .all(|p| p.as_str().ends_with(":read"))
        );
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
    fn names_round_trip_and_unknown_names_are_not_roles_or_permissions() {
        for p in ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
            assert_eq!(serde_json::to_string(p).unwrap(), format!("\"{p}\""));
        }
        for r in ROLES {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("service"), None, "not assignable");
        assert_eq!(Permission::parse("agents:delete"), None);
        assert!(permissions_from_names(&["agents:delete"]).is_empty());
    }

    #[test]
    fn lists_from_another_version_keep_what_this_one_knows() {
        #[derive(Deserialize)]
        struct Claims {
            #[serde(deserialize_with = "known")]
            permissions: Vec<Permission>,
        }
        let claims: Claims =
            serde_json::from_str(r#"{"permissions": ["agents:read", "agents:teleport"]}"#).unwrap();
        assert_eq!(claims.permissions, vec![AGENTS_READ]);
    }
}
