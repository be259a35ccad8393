//! Injected faults: the next N calls of an operation answered with throttling or a 500.
//!
//! Tools must survive throttling storms and transient server errors without losing their
//! deadline; tests arm a fault here and watch the tool retry.

use serde::{Deserialize, Serialize};

use crate::error::EcsError;

/// What an armed fault answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 400 `ThrottlingException` / `Rate exceeded`.
    Throttle,
    /// HTTP 500 `ServerException`.
    ServerError,
    /// HTTP 400 `AccessDeniedException`: the caller's role lacks `ecs:<operation>`.
    AccessDenied,
}

/// One armed fault: `count` more calls of `operation` (or `*` for any) fail with `kind`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub operation: String,
    pub count: u32,
    pub kind: FaultKind,
}

/// The armed faults, consumed first-armed first.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Faults {
    armed: Vec<Fault>,
}

impl Faults {
    pub fn arm(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.armed.push(fault);
        }
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }

    pub fn armed(&self) -> &[Fault] {
        &self.armed
    }

    /// The error this call must get, if a fault is armed for it; uses up one count.
    pub fn take(&mut self, operation: &str) -> Option<EcsError> {
        let index = self
            .armed
            .iter()
            .position(|f| f.operation == operation || f.operation == "*")?;
        let fault = &mut self.armed[index];
        fault.count = fault.count.saturating_sub(1);
        let kind = fault.kind;
        if fault.count == 0 {
            self.armed.remove(index);
        }
        Some(match kind {
            FaultKind::Throttle => EcsError::throttling(),
            FaultKind::ServerError => {
                EcsError::server(format!("Injected server error for {operation}."))
            }
            FaultKind::AccessDenied => EcsError::access_denied(operation),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault answers exactly `count` calls of its operation, then disarms.
    #[test]
    fn fault_counts_down_and_disarms() {
        let mut f = Faults::default();
        f.arm(Fault {
            operation: "DescribeServices".into(),
            count: 2,
            kind: FaultKind::Throttle,
        });
        assert!(f.take("ListTasks").is_none());
        assert_eq!(
            f.take("DescribeServices").unwrap().code,
            "ThrottlingException"
        );
        assert!(f.take("DescribeServices").is_some());
        assert!(f.take("DescribeServices").is_none());
        assert!(f.armed().is_empty());
    }

    /// `*` matches every operation.
    #[test]
    fn wildcard_matches_any_operation() {
        let mut f = Faults::default();
        f.arm(Fault {
            operation: "*".into(),
            count: 1,
            kind: FaultKind::ServerError,
        });
        assert_eq!(f.take("ListTasks").unwrap().status, 500);
        assert!(f.take("ListTasks").is_none());
    }

    /// An access-denied fault answers with IAM's wording, naming the action.
    #[test]
    fn access_denied_names_the_action() {
        let mut f = Faults::default();
        f.arm(Fault {
            operation: "ListServiceDeployments".into(),
            count: 1,
            kind: FaultKind::AccessDenied,
        });
        let e = f.take("ListServiceDeployments").unwrap();
        assert_eq!((e.status, e.code), (400, "AccessDeniedException"));
        assert!(
            e.message
                .contains("is not authorized to perform: ecs:ListServiceDeployments"),
            "{e}"
        );
    }
}
