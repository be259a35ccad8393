//! Task definitions cross the wire as JSON, through the SDK client.
//!
//! The SDK's task-definition types are not serde types, and converting ~60 nested shapes field by
//! field both ways would silently drop every field the converter does not know (a `linuxParameters`
//! or `firelensConfiguration` lost on the next deploy). ECS speaks JSON (awsJson1.1) and its
//! DescribeTaskDefinition output and RegisterTaskDefinition input share their shapes, so ecs-roll
//! keeps the definition as JSON end to end, as ecspresso does:
//!
//! - **describe**: the SDK call is made as usual (endpoint, signing, retries, typed errors) and an
//!   interceptor keeps the raw response body, which is parsed into `serde_json::Value`;
//! - **register**: the SDK builds and sends the request, and `mutate_request` swaps the body for
//!   the rendered JSON before signing (so the signature covers it) on every attempt; the typed
//!   response gives the new ARN.
//!
//! Nothing else is sent raw: services, tasks and deployments use the SDK's types.

use std::sync::{Arc, Mutex};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::TaskDefinitionField;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use dk_core::aws::sdk_error;
use dk_core::{Error, Result};
use serde_json::Value;

use crate::render::{TaskDefinitionDoc, registerable};

/// A registered revision as DescribeTaskDefinition returns it.
#[derive(Debug, Clone)]
pub struct Described {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    pub status: String,
    /// The registerable document (allow-listed, tags carried).
    pub doc: TaskDefinitionDoc,
}

/// Keeps the raw body of the (last) response.
#[derive(Debug, Clone, Default)]
struct KeepBody(Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for KeepBody {
    fn name(&self) -> &'static str {
        "ecs-roll::KeepBody"
    }
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes()
            && let Ok(mut slot) = self.0.lock()
        {
            *slot = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// DescribeTaskDefinition (with tags) as JSON. `Ok(None)` when it does not exist.
pub async fn describe_task_definition(ecs: &Client, id: &str) -> Result<Option<Described>> {
    let keep = KeepBody::default();
    let res = ecs
        .describe_task_definition()
        .task_definition(id)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(keep.clone())
        .send()
        .await;
    let out = match res {
        Ok(o) => o,
        Err(e) => {
            // ECS answers ClientException "Unable to describe task definition." for a missing one.
            let missing = e.as_service_error().is_some_and(|s| {
                let msg = s.meta().message().unwrap_or("").to_ascii_lowercase();
                s.is_client_exception()
                    && (msg.contains("unable to describe")
                        || msg.contains("not found")
                        || msg.contains("does not exist"))
            });
            if missing {
                return Ok(None);
            }
            return Err(sdk_error(&format!("DescribeTaskDefinition {id}"), e));
        }
    };
    let raw = keep.0.lock().ok().and_then(|mut s| s.take());
    let parsed: Option<Value> = raw.and_then(|b| serde_json::from_slice(&b).ok());
    let Some(Value::Object(mut body)) = parsed else {
        return Err(Error::runtime(format!(
            "DescribeTaskDefinition {id}: the response body was not a JSON object"
        )));
    };
    let Some(Value::Object(td)) = body.remove("taskDefinition") else {
        return Ok(None);
    };
    let tags = match body.remove("tags") {
        Some(Value::Array(t)) => t,
        _ => Vec::new(),
    };
    let typed = out.task_definition();
    let arn = typed
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .or_else(|| {
            td.get("taskDefinitionArn")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Ok(Some(Described {
        family: td
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        revision: td
            .get("revision")
            .and_then(Value::as_i64)
            .unwrap_or_default(),
        status: td
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("ACTIVE")
            .to_string(),
        arn,
        doc: registerable(&td, &tags),
    }))
}

/// RegisterTaskDefinition with the rendered JSON; returns the new revision's ARN.
pub async fn register_task_definition(ecs: &Client, doc: &TaskDefinitionDoc) -> Result<String> {
    let body = serde_json::to_string(&doc.register_request())
        .map_err(|e| Error::runtime(format!("cannot encode the task definition: {e}")))?;
    let family = doc.family().to_string();
    let out = ecs
        .register_task_definition()
        .family(&family)
        .customize()
        .mutate_request(move |req| {
            *req.body_mut() = SdkBody::from(body.clone());
            req.headers_mut().insert("content-length", body.len().to_string());
        })
        .send()
        .await
        .map_err(|e| {
            let invalid = e.as_service_error().is_some_and(|s| s.is_client_exception() || s.is_invalid_parameter_exception());
            let err = sdk_error(&format!("RegisterTaskDefinition {family}"), e);
            if invalid {
                Error::usage(err.message().to_string()).with_hint("ECS refused the rendered task definition; check the file or flags it came from")
            } else {
                err
            }
        })?;
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::runtime(format!(
                "RegisterTaskDefinition {family}: no ARN in the response"
            ))
        })
}

/// `family:revision` of an ARN (or the input unchanged), for people; and the family of either.
pub use dk_core::ecs::{family_of, task_definition_name as short_name};
