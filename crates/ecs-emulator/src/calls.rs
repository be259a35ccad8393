//! A record of the ECS calls received, so benchmarks can count requests per poll.

use std::collections::BTreeMap;

use serde::Serialize;

/// Calls per operation, plus the batch size of every DescribeServices call.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct CallLog {
    /// Operation name → number of calls (faulted calls included).
    pub operations: BTreeMap<String, u64>,
    /// Number of services named in each DescribeServices call, in call order.
    pub describe_services_batch_sizes: Vec<usize>,
    /// The input of every RunTask call, in call order (what a migration asked for).
    pub run_task_inputs: Vec<serde_json::Value>,
    /// Calls answered by an injected fault.
    pub faulted: u64,
    /// Total calls.
    pub total: u64,
}

impl CallLog {
    pub fn record(&mut self, operation: &str) {
        *self.operations.entry(operation.to_string()).or_insert(0) += 1;
        self.total += 1;
    }

    pub fn count(&self, operation: &str) -> u64 {
        self.operations.get(operation).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_operation() {
        let mut log = CallLog::default();
        log.record("DescribeServices");
        log.record("DescribeServices");
        log.record("ListTasks");
        assert_eq!(log.count("DescribeServices"), 2);
        assert_eq!(log.count("RunTask"), 0);
        assert_eq!(log.total, 3);
    }
}
