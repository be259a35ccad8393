//! ECS errors as the JSON 1.1 protocol sends them.
//!
//! AWS SDKs read the error code from `__type` and the text from `message`; the HTTP status
//! decides whether the SDK treats it as a client or server fault (and so whether it retries).

use serde_json::{Value, json};

/// An ECS error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl EcsError {
    fn client(code: &'static str, message: impl Into<String>) -> Self {
        EcsError {
            status: 400,
            code,
            message: message.into(),
        }
    }

    pub fn cluster_not_found() -> Self {
        Self::client("ClusterNotFoundException", "Cluster not found.")
    }

    pub fn service_not_found() -> Self {
        Self::client("ServiceNotFoundException", "Service not found.")
    }

    pub fn service_not_active() -> Self {
        Self::client("ServiceNotActiveException", "Service was not ACTIVE.")
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::client("InvalidParameterException", message)
    }

    pub fn client_exception(message: impl Into<String>) -> Self {
        Self::client("ClientException", message)
    }

    pub fn service_deployment_not_found() -> Self {
        Self::client(
            "ServiceDeploymentNotFoundException",
            "The service deployment does not exist.",
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::client("ConflictException", message)
    }

    pub fn resource_not_found() -> Self {
        Self::client(
            "ResourceNotFoundException",
            "The specified resource could not be found.",
        )
    }

    pub fn unknown_operation(operation: &str) -> Self {
        Self::client(
            "UnknownOperationException",
            format!("Operation {operation} is not supported by the ECS emulator."),
        )
    }

    /// A request body that is not the JSON the operation expects.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::client("SerializationException", message)
    }

    pub fn task_definition_missing() -> Self {
        Self::client_exception("Unable to describe task definition.")
    }

    /// What IAM answers a role without the permission (IAM User Guide, "Troubleshoot access
    /// denied error messages").
    pub fn access_denied(operation: &str) -> Self {
        Self::client(
            "AccessDeniedException",
            format!(
                "User: {caller} is not authorized to perform: ecs:{operation} on resource: * because no identity-based policy allows the ecs:{operation} action",
                caller = crate::ids::CALLER_ARN
            ),
        )
    }

    pub fn throttling() -> Self {
        Self::client("ThrottlingException", "Rate exceeded")
    }

    pub fn server(message: impl Into<String>) -> Self {
        EcsError {
            status: 500,
            code: "ServerException",
            message: message.into(),
        }
    }

    /// The response body.
    pub fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }
}

impl std::fmt::Display for EcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EcsError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body has exactly the two fields ECS sends.
    #[test]
    fn body_shape_matches_ecs() {
        let e = EcsError::cluster_not_found();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.body(),
            json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
        );
        assert_eq!(EcsError::throttling().body()["message"], "Rate exceeded");
        assert_eq!(EcsError::server("boom").status, 500);
    }
}
