//! What an LLM call cost: a versioned price table shipped with the service
//! (`pricing/prices.json`), per-tenant overrides, and self-hosted providers priced at zero on
//! purpose. A model without a price is reported as *unpriced* — never silently $0.
//!
//! Costs are kept in nano-dollars (1e-9 USD) as integers, so sums are exact.

use std::collections::HashMap;

use serde::Deserialize;
use temponest_llm::{ProviderKind, Usage};

/// USD per million input and output tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
pub struct Price {
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
}

impl Price {
    /// Cost of `usage` in nano-dollars (1 USD per Mtok = 1,000 nano-dollars per token).
    pub fn cost_nanos(&self, usage: &Usage) -> i64 {
        let nanos = f64::from(usage.prompt_tokens) * self.input_usd_per_mtok * 1_000.0
            + f64::from(usage.completion_tokens) * self.output_usd_per_mtok * 1_000.0;
        nanos.round() as i64
    }
}

/// Where a price came from.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceSource {
    /// The shipped table, by version.
    Table(String),
    TenantOverride,
    /// Ollama and echo run on the operator's hardware: no per-token charge.
    SelfHosted,
}

impl PriceSource {
    /// As stored in a cost record's `price_source`.
    pub fn label(&self) -> String {
        match self {
            Self::Table(version) => format!("table:{version}"),
            Self::TenantOverride => "tenant_override".to_owned(),
            Self::SelfHosted => "self_hosted".to_owned(),
        }
    }
}

/// The shipped price table.
#[derive(Debug, Clone)]
pub struct PriceTable {
    pub version: String,
    models: HashMap<String, Price>,
}

/// A price table that is not valid JSON of the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("invalid price table: {0}")]
pub struct PriceTableError(#[from] serde_json::Error);

#[derive(Deserialize)]
struct TableFile {
    version: String,
    models: HashMap<String, (f64, f64)>,
}

impl PriceTable {
    /// The table compiled into the binary.
    pub fn shipped() -> Self {
        Self::parse(include_str!("../../pricing/prices.json"))
            .expect("pricing/prices.json is valid")
    }

    /// A table from `{"version": "...", "models": {"name": [input, output], ...}}`.
    pub fn parse(json: &str) -> Result<Self, PriceTableError> {
        let file: TableFile = serde_json::from_str(json)?;
        Ok(Self {
            version: file.version,
            models: file
                .models
                .into_iter()
                .map(|(model, (input, output))| {
                    (
                        model,
                        Price {
                            input_usd_per_mtok: input,
                            output_usd_per_mtok: output,
                        },
                    )
                })
                .collect(),
        })
    }

    /// The price of `model`: an exact entry, else the longest entry it extends with a
    /// `-suffix` (dated snapshots such as `gpt-4o-2024-08-06` or `claude-sonnet-4-5-20250929`).
    pub fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.models.get(model) {
            return Some(*price);
        }
        self.models
            .iter()
            .filter(|(name, _)| {
                model.len() > name.len()
                    && model.starts_with(name.as_str())
                    && model.as_bytes()[name.len()] == b'-'
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }

    /// Every entry, sorted by model.
    pub fn entries(&self) -> Vec<(String, Price)> {
        let mut all: Vec<_> = self.models.iter().map(|(m, p)| (m.clone(), *p)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The effective price of a call: tenant override, then self-hosted zero, then the table.
    /// `None` means unpriced.
    pub fn resolve(
        &self,
        kind: ProviderKind,
        model: &str,
        tenant_override: Option<Price>,
    ) -> Option<(Price, PriceSource)> {
        if let Some(price) = tenant_override {
            return Some((price, PriceSource::TenantOverride));
        }
        if matches!(kind, ProviderKind::Ollama | ProviderKind::Echo) {
            let free = Price {
                input_usd_per_mtok: 0.0,
                output_usd_per_mtok: 0.0,
            };
            return Some((free, PriceSource::SelfHosted));
        }
        self.lookup(model)
            .map(|price| (price, PriceSource::Table(self.version.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_snapshots_use_the_longest_matching_entry() {
        let table = PriceTable::shipped();
        assert_eq!(table.lookup("gpt-4o-2024-08-06"), table.lookup("gpt-4o"));
        assert_eq!(
            table.lookup("gpt-4o-mini-2024-07-18"),
            table.lookup("gpt-4o-mini")
        );
        assert_ne!(table.lookup("gpt-4o-mini"), table.lookup("gpt-4o"));
        assert!(table.lookup("gpt-4omega").is_none());
        assert!(table.lookup("my-finetune").is_none());
    }

    #[test]
    fn a_malformed_table_is_refused() {
        assert!(PriceTable::parse(r#"{"version": "1", "models": {"m": [1.0]}}"#).is_err());
        let table = PriceTable::parse(r#"{"version": "7", "models": {"m": [1.0, 2.0]}}"#).unwrap();
        assert_eq!(table.version, "7");
        assert_eq!(table.lookup("m").map(|p| p.output_usd_per_mtok), Some(2.0));
    }

    #[test]
    fn cost_is_exact_in_nano_dollars() {
        let price = Price {
            input_usd_per_mtok: 2.5,
            output_usd_per_mtok: 10.0,
        };
        let usage = Usage {
            prompt_tokens: 1_000,
            completion_tokens: 500,
        };
        // 1000 × $2.50/M + 500 × $10/M = $0.0025 + $0.005 = $0.0075
        assert_eq!(price.cost_nanos(&usage), 7_500_000);
    }

    #[test]
    fn unknown_hosted_models_are_unpriced_and_self_hosted_ones_free() {
        let table = PriceTable::shipped();
        assert!(
            table
                .resolve(ProviderKind::OpenAi, "mystery-model", None)
                .is_none()
        );
        let (price, source) = table
            .resolve(ProviderKind::Ollama, "llama3.2", None)
            .unwrap();
        assert_eq!(price.input_usd_per_mtok, 0.0);
        assert_eq!(source, PriceSource::SelfHosted);
        let custom = Price {
            input_usd_per_mtok: 1.0,
            output_usd_per_mtok: 1.0,
        };
        let (_, source) = table
            .resolve(ProviderKind::OpenAi, "mystery-model", Some(custom))
            .unwrap();
        assert_eq!(source, PriceSource::TenantOverride);
    }
}
