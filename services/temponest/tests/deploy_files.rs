//! The shipped deployment files keep the platform's internal doors shut: compose has no
//! default service secret, the edge proxy never publishes the internal routes, and the
//! Kubernetes example's placeholder secret is one the services refuse to start with.

use std::path::PathBuf;

fn read(relative: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The internal routes of SPEC §1 that must not be reachable from outside.
const INTERNAL: &[&str] = &["auth/service-token", "auth/introspect", "metrics"];

#[test]
fn compose_ships_no_default_service_secret() {
    let compose = read("docker-compose.yml");
    let uses: Vec<&str> = compose
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.contains("${TEMPONEST_SCHEDULER_SECRET"))
        .collect();
    assert_eq!(uses.len(), 2, "auth and the scheduler both take the secret");
    for line in uses {
        assert!(
            line.contains("${TEMPONEST_SCHEDULER_SECRET:?"),
            "the secret must be required, never defaulted: {line}"
        );
    }
    assert!(!compose.contains("dev-only-scheduler-secret"));
}

#[test]
fn the_edge_answers_404_for_internal_routes_on_every_public_port() {
    let nginx = read("docker/edge/nginx.conf");
    let servers: Vec<&str> = nginx.split("    server {").skip(1).collect();
    let public: Vec<&str> = servers
        .iter()
        .copied()
        .filter(|s| s.contains("listen 9000;") || s.contains("listen 9003;"))
        .collect();
    assert_eq!(public.len(), 2, "ports 9000 and 9003 are published");
    for server in public {
        // nginx tries regex locations in order: the refusal must come before any proxying one.
        let first_location = server
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("location"))
            .expect("a location");
        for route in INTERNAL {
            assert!(
                first_location.contains(route),
                "`{route}` is not refused first: {first_location}"
            );
        }
        let block = &server[server.find(first_location).unwrap()..];
        let body = &block[..block.find('}').unwrap()];
        assert!(body.contains("return 404"), "{body}");
        assert!(!body.contains("proxy_pass"), "{body}");
    }
}

#[test]
fn the_kubernetes_example_service_secret_is_refused_by_the_services() {
    let example = read("deploy/k8s/base/secret.example.yaml");
    let placeholder = example
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("scheduler: "))
        .expect("the example has a scheduler secret");
    assert!(
        temponest_auth_client::secret_strength::check(placeholder).is_err(),
        "`{placeholder}` would be accepted as a real secret"
    );
}

/// The variables `docker-compose.yml` reads (`${NAME…}`), in order of first use.
fn compose_variables(compose: &str) -> Vec<String> {
    let mut names = Vec::new();
    for piece in compose.split("${").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[test]
fn env_example_documents_every_compose_variable_and_secrets_have_no_default() {
    let compose = read("docker-compose.yml");
    let example = read(".env.example");
    let documented: Vec<&str> = example
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.starts_with('#'))
        .collect();
    let used = compose_variables(&compose);
    assert!(used.len() >= 15, "{used:?}");
    for name in &used {
        assert!(
            documented.contains(&name.as_str()),
            "{name} is read by docker-compose.yml but not in .env.example"
        );
    }
    for secret in [
        "POSTGRES_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "TEMPONEST_SCHEDULER_SECRET",
        "TEMPONEST_AGENTS_SECRET",
        "TEMPONEST_AUTH_SECRET_KEY",
        "TEMPONEST_WEBHOOKS_SECRET_KEY",
    ] {
        let uses: Vec<&str> = compose
            .split("${")
            .skip(1)
            .filter(|piece| {
                piece.starts_with(secret) && piece[secret.len()..].starts_with([':', '}'])
            })
            .collect();
        assert!(!uses.is_empty(), "{secret} is not used");
        for usage in uses {
            assert!(
                usage[secret.len()..].starts_with(":?"),
                "{secret} must be required, never defaulted: ${{{usage}"
            );
        }
        // …and .env.example leaves it empty: no shipped value to copy into production.
        assert!(
            example.lines().any(|l| l == format!("{secret}=")),
            "{secret} must be empty in .env.example"
        );
    }
    assert!(read(".gitignore").lines().any(|l| l == ".env"));
}
