//! `http_request`: lets a model fetch a URL. Guarded against SSRF (no loopback, private,
//! link-local or metadata destinations unless allowed by configuration; hostnames are resolved
//! once and the checked address is the one connected to; redirects are not followed), with a
//! timeout and a cap on the response body the model sees.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use temponest_llm::ToolSpec;
use temponest_netguard::{NetPolicy, SendError};

use super::{Tool, ToolError, ToolSetupError};
use crate::config::ToolsConfig;

pub const NAME: &str = "http_request";
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// The SSRF-guarded HTTP client tool.
pub struct HttpRequest {
    policy: NetPolicy,
    client: reqwest::Client,
    max_response_bytes: usize,
}

#[derive(Deserialize)]
struct Arguments {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
}

impl HttpRequest {
    pub fn new(config: &ToolsConfig) -> Result<Self, ToolSetupError> {
        let policy = NetPolicy::parse(&config.http_allowed_networks)?;
        let client = policy
            .client_builder()
            .timeout(Duration::from_secs(config.http_timeout_secs))
            .connect_timeout(Duration::from_secs(config.http_timeout_secs.min(10)))
            .user_agent("TempoNest-agent/1 (http_request tool)")
            .build()
            .map_err(ToolSetupError::HttpClient)?;
        Ok(Self {
            policy,
            client,
            max_response_bytes: config.http_max_response_bytes,
        })
    }

    async fn run(&self, arguments: &Value) -> Result<Value, ToolError> {
        let args: Arguments =
            serde_json::from_value(arguments.clone()).map_err(ToolError::InvalidArguments)?;
        let method = match args
            .method
            .as_deref()
            .unwrap_or("GET")
            .to_ascii_uppercase()
            .as_str()
        {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            "HEAD" => Method::HEAD,
            other => return Err(ToolError::UnsupportedMethod(other.to_owned())),
        };
        let url = self.policy.check_url(&args.url)?;
        let mut request = self.client.request(method, url);
        for (name, value) in &args.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &args.body {
            let text = match body {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if text.len() > MAX_REQUEST_BODY {
                return Err(ToolError::RequestBodyTooLarge {
                    limit: MAX_REQUEST_BODY,
                });
            }
            if !matches!(body, Value::String(_)) {
                request = request.header("content-type", "application/json");
            }
            request = request.body(text);
        }
        let request = request.build().map_err(ToolError::InvalidRequest)?;
        let mut response = temponest_netguard::guarded_send(&self.client, &self.policy, request)
            .await
            .map_err(|e| match e {
                SendError::Guard(guard) => ToolError::Refused(guard),
                SendError::Http(http) => describe(http),
            })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            let room = self.max_response_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(json!({
            "status": status,
            "content_type": content_type,
            "body": String::from_utf8_lossy(&body),
            "truncated": truncated,
        }))
    }
}

/// A reqwest error as the model should see it (never the full URL with query secrets).
fn describe(err: reqwest::Error) -> ToolError {
    if let Some(guard) = temponest_netguard::guard_error(&err) {
        return ToolError::Refused(guard);
    }
    if err.is_timeout() {
        ToolError::TimedOut
    } else if err.is_connect() {
        ToolError::CouldNotConnect
    } else {
        ToolError::RequestFailed(err.without_url())
    }
}

impl Tool for HttpRequest {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: NAME.to_owned(),
            description: "Makes an HTTP request to a public URL and returns the status, content type and (possibly truncated) body.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "http(s) URL"},
                    "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {"description": "request body: a string, or JSON sent as application/json"}
                },
                "required": ["url"]
            }),
        }
    }

    fn call<'a>(&'a self, arguments: &'a Value) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(self.run(arguments))
    }
}
