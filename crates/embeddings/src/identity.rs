//! [`EmbeddingIdentity`]: which provider, model and dimension count produced a vector,
//! written `provider/model@dims` (`ollama/nomic-embed-text@768`). Stamped on every stored
//! vector and compared at query time, so a model change can never mix incomparable vectors
//! (the failure behind "dimension mismatch" reports in other RAG systems).

use std::fmt;
use std::str::FromStr;

/// `provider/model@dims`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmbeddingIdentity {
    /// The configured provider name (no `/`).
    pub provider: String,
    /// The model name; may itself contain `/` or `:` (`nomic-ai/nomic-embed-text-v1.5`,
    /// `nomic-embed-text:latest`).
    pub model: String,
    pub dims: usize,
}

impl fmt::Display for EmbeddingIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.provider, self.model, self.dims)
    }
}

/// Why a string is not an [`EmbeddingIdentity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an embedding identity (expected provider/model@dims)")]
pub struct InvalidIdentity(pub String);

impl FromStr for EmbeddingIdentity {
    type Err = InvalidIdentity;

    /// Splits at the first `/` (providers have none) and the last `@` (dims have none).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidIdentity(text.to_owned());
        let (provider, rest) = text.split_once('/').ok_or_else(invalid)?;
        let (model, dims) = rest.rsplit_once('@').ok_or_else(invalid)?;
        let dims: usize = dims.parse().map_err(|_| invalid())?;
        if provider.is_empty() || model.is_empty() || dims == 0 {
            return Err(invalid());
        }
        Ok(Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            dims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_their_text_form() {
        for text in [
            "ollama/nomic-embed-text@768",
            "openai/text-embedding-3-small@1536",
            "vllm/nomic-ai/nomic-embed-text-v1.5@768",
            "ollama/mxbai@embed:latest@1024",
        ] {
            let identity: EmbeddingIdentity = text.parse().unwrap();
            assert_eq!(identity.to_string(), text);
        }
        let identity: EmbeddingIdentity =
            "vllm/nomic-ai/nomic-embed-text-v1.5@768".parse().unwrap();
        assert_eq!(
            (
                identity.provider.as_str(),
                identity.model.as_str(),
                identity.dims
            ),
            ("vllm", "nomic-ai/nomic-embed-text-v1.5", 768)
        );
    }

    #[test]
    fn malformed_identities_are_refused() {
        for text in [
            "",
            "ollama",
            "ollama/model",
            "ollama/model@",
            "/m@3",
            "p/@3",
            "p/m@0",
            "p/m@x",
        ] {
            assert_eq!(
                text.parse::<EmbeddingIdentity>(),
                Err(InvalidIdentity(text.to_owned())),
                "{text}"
            );
        }
    }
}
