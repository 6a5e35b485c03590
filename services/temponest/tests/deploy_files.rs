//! The shipped deployment files keep the platform's internal doors shut: compose has no
//! default service secret, the edge proxy never publishes the internal routes, and the
//! Kubernetes example's placeholder secret is one the services refuse to start with.

use std::path::PathBuf;

use serde::Deserialize;

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

/// The layers with every service's section extracted, as `temponest serve` has them.
fn every_section() -> temponest_platform::Layers {
    let layers = temponest_platform::Layers::none();
    layers
        .unchecked::<temponest_platform::PlatformConfig>()
        .unwrap();
    layers.unchecked::<temponest_auth::AuthConfig>().unwrap();
    layers
        .unchecked::<temponest_agents::AgentsConfig>()
        .unwrap();
    layers
        .unchecked::<temponest_webhooks::WebhooksConfig>()
        .unwrap();
    layers
        .unchecked::<temponest_knowledge::KnowledgeConfig>()
        .unwrap();
    layers
        .unchecked::<temponest_scheduler::SchedulerConfig>()
        .unwrap();
    layers
        .unchecked::<temponest_console::ConsoleConfig>()
        .unwrap();
    layers
}

#[test]
fn the_platform_knows_every_services_top_level_keys() {
    let mut tops: Vec<String> = every_section()
        .known_keys()
        .into_iter()
        .map(|p| p.split('.').next().unwrap().to_owned())
        .collect();
    tops.sort();
    tops.dedup();
    let mut listed: Vec<&str> = temponest_platform::known::ALL_KEYS.to_vec();
    listed.sort();
    assert_eq!(tops, listed, "update temponest_platform::known::ALL_KEYS");
}

/// `name: environment` of every compose service that runs a TempoNest binary.
fn compose_environments() -> Vec<(String, Vec<String>)> {
    let mut compose: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("docker-compose.yml")).unwrap();
    compose.apply_merge().unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let mut found = Vec::new();
    for (name, service) in services {
        let image = service["image"].as_str().unwrap_or_default();
        if !image.contains("temponest") {
            continue;
        }
        let mut env = service["environment"].clone();
        env.apply_merge().unwrap();
        let names = env
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        found.push((name.as_str().unwrap().to_owned(), names));
    }
    found
}

/// `name: variables` of every Kubernetes Deployment and Job (`env` names, plus the keys of the
/// ConfigMap and example Secrets they take with `envFrom`).
fn kubernetes_environments() -> Vec<(String, Vec<String>)> {
    let mut shared: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut workloads = Vec::new();
    for file in [
        "config.yaml",
        "secret.example.yaml",
        "auth.yaml",
        "agents.yaml",
        "webhooks.yaml",
        "knowledge.yaml",
        "scheduler.yaml",
        "migrate-job.yaml",
    ] {
        let text = read(&format!("deploy/k8s/base/{file}"));
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let doc = serde_yaml_ng::Value::deserialize(document).unwrap();
            let kind = doc["kind"].as_str().unwrap_or_default();
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match kind {
                "ConfigMap" | "Secret" => {
                    let data = if kind == "Secret" {
                        &doc["stringData"]
                    } else {
                        &doc["data"]
                    };
                    let keys = data
                        .as_mapping()
                        .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
                        .unwrap_or_default();
                    shared.insert(name, keys);
                }
                "Deployment" | "Job" => workloads.push((name, doc)),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    for (name, doc) in workloads {
        for container in doc["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .unwrap()
        {
            let mut names: Vec<String> = container["env"]
                .as_sequence()
                .map(|s| {
                    s.iter()
                        .map(|e| e["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            // Variables defined only to be expanded into others (`$(NAME)`) by Kubernetes.
            let values = serde_yaml_ng::to_string(&container["env"]).unwrap();
            names.retain(|n| !values.contains(&format!("$({n})")));
            for source in container["envFrom"].as_sequence().into_iter().flatten() {
                let reference = if source["configMapRef"].is_mapping() {
                    &source["configMapRef"]
                } else {
                    &source["secretRef"]
                };
                let from = reference["name"].as_str().unwrap();
                names.extend(shared.get(from).cloned().unwrap_or_default());
            }
            found.push((name.clone(), names));
        }
    }
    found
}

#[test]
fn deployment_files_set_only_variables_the_binaries_read_and_every_required_one() {
    let layers = every_section();
    let required: &[(&str, &[&str])] = &[
        ("auth", &["DATABASE_URL", "TEMPONEST_SERVICE_CLIENTS"]),
        (
            "agents",
            &[
                "DATABASE_URL",
                "TEMPONEST_SERVICE_CLIENT_SECRET",
                "TEMPONEST_KNOWLEDGE_URL",
            ],
        ),
        (
            "webhooks",
            &["DATABASE_URL", "TEMPONEST_WEBHOOKS__SECRET_KEY"],
        ),
        ("knowledge", &["DATABASE_URL"]),
        (
            "scheduler",
            &["DATABASE_URL", "TEMPONEST_SERVICE_CLIENT_SECRET"],
        ),
    ];
    let compose = compose_environments();
    let kubernetes = kubernetes_environments();
    assert!(
        compose.len() >= 6 && kubernetes.len() >= 6,
        "{compose:?} {kubernetes:?}"
    );
    for (origin, environments) in [
        ("docker-compose.yml", &compose),
        ("deploy/k8s", &kubernetes),
    ] {
        for (service, names) in environments {
            let names: Vec<&str> = names
                .iter()
                .map(String::as_str)
                // Compose's own build arguments and the example Secret's service-client keys
                // are not process variables.
                .filter(|n| !matches!(*n, "scheduler" | "agents" | "secret-key" | "cookie-key"))
                .collect();
            let unknown = layers.unknown_variables(&names);
            assert!(unknown.is_empty(), "{origin} {service} sets {unknown:?}");
            if let Some((_, needed)) = required.iter().find(|(s, _)| s == service) {
                for variable in *needed {
                    assert!(
                        names.contains(variable),
                        "{origin} {service} does not set {variable}"
                    );
                }
            }
        }
    }
}

/// The value of the first `key = "value"` line of a TOML file.
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

#[test]
fn the_rust_version_is_pinned_in_rust_toolchain_toml_and_everything_else_agrees() {
    let toolchain = read("rust-toolchain.toml");
    let pinned = toml_string(&toolchain, "channel").expect("rust-toolchain.toml has a channel");
    assert!(
        pinned.split('.').count() == 3 && pinned.split('.').all(|n| n.parse::<u32>().is_ok()),
        "pin an exact release (x.y.z), not {pinned:?}"
    );
    // No components: rustup would try to download a listed one that is missing (offline here).
    assert!(
        !toolchain
            .lines()
            .any(|l| l.trim_start().starts_with("components")),
        "{toolchain}"
    );
    assert_eq!(
        toml_string(&read("Cargo.toml"), "rust-version").as_deref(),
        Some(pinned.as_str()),
        "Cargo.toml rust-version"
    );
    let dockerfile = read("docker/Dockerfile");
    let image = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .expect("docker/Dockerfile has ARG RUST_VERSION");
    assert_eq!(image, pinned, "docker/Dockerfile rust image");
    assert!(dockerfile.contains("FROM rust:${RUST_VERSION}-"));
    let mut actions = 0;
    for workflow in ["ci.yml", "load-smoke.yml", "release.yml"] {
        let text = read(&format!(".github/workflows/{workflow}"));
        for line in text.lines().filter(|l| l.contains("rust-toolchain@")) {
            let version = line.split('@').nth(1).unwrap().trim();
            assert_eq!(version, pinned, "{workflow}: {line}");
            actions += 1;
        }
        assert!(
            !text.contains("toolchain: "),
            "{workflow} names a toolchain apart from the action's version"
        );
    }
    assert!(
        actions >= 4,
        "the workflows install Rust with dtolnay/rust-toolchain"
    );
}

/// The services whose documents the edge's docs page offers.
const SERVICES: &[&str] = &["agents", "auth", "scheduler", "webhooks", "knowledge"];

/// The documents `TEMPONEST_DOCS_URLS` gives the agents service, as the service reads them.
fn docs_urls(value: &str) -> Vec<String> {
    temponest_platform::sections::docs_urls(value)
        .expect("a valid TEMPONEST_DOCS_URLS")
        .into_iter()
        .map(|(name, url)| {
            assert_eq!(url, format!("/openapi/{name}.json"));
            name
        })
        .collect()
}

#[test]
fn the_edge_serves_every_services_document_and_the_docs_page_offers_them_all() {
    let nginx = read("docker/edge/nginx.conf");
    let public = nginx
        .split("    server {")
        .find(|s| s.contains("listen 9000;"))
        .unwrap();
    for service in SERVICES {
        let location = format!("location = /openapi/{service}.json {{");
        let block = &public[public
            .find(&location)
            .unwrap_or_else(|| panic!("no `{location}`"))..];
        let body = &block[..block.find('}').unwrap()];
        assert!(
            body.contains(&format!("proxy_pass http://{service}/openapi.json;")),
            "{body}"
        );
    }
    // /docs itself falls through to the agents service.
    let catch_all = &public[public.find("location / {").expect("a catch-all")..];
    let catch_all = &catch_all[..catch_all.find("\n        }").unwrap()];
    assert!(
        catch_all.contains("proxy_pass http://agents;"),
        "{catch_all}"
    );

    let mut compose: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("docker-compose.yml")).unwrap();
    compose.apply_merge().unwrap();
    let value = compose["services"]["agents"]["environment"]["TEMPONEST_DOCS_URLS"]
        .as_str()
        .expect("compose gives agents TEMPONEST_DOCS_URLS");
    assert_eq!(docs_urls(value), SERVICES, "docker-compose.yml");

    let agents = read("deploy/k8s/base/agents.yaml");
    let value = agents
        .lines()
        .skip_while(|l| !l.contains("name: TEMPONEST_DOCS_URLS"))
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("value: "))
        .expect("agents.yaml sets TEMPONEST_DOCS_URLS");
    assert_eq!(docs_urls(value), SERVICES, "deploy/k8s/base/agents.yaml");
    let ingress = read("deploy/k8s/base/ingress.yaml");
    let openapi = &ingress[ingress
        .find("name: temponest-openapi")
        .expect("an Ingress for the documents")..];
    assert!(openapi.contains("rewrite-target: /openapi.json"));
    for service in SERVICES {
        let path = format!("- path: /openapi/{service}\\.json$");
        let at = openapi.find(&path).unwrap_or_else(|| panic!("no `{path}`"));
        let backend = openapi[at..].lines().nth(2).unwrap();
        assert!(
            backend.contains(&format!("name: {service},")),
            "{path}: {backend}"
        );
    }
}
