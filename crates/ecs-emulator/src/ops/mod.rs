//! The ECS operations: each takes the request body and the state, and returns the response
//! body or an [`EcsError`]. Dispatch is by the operation name from `X-Amz-Target`.

mod clusters;
mod continue_deployment;
mod input;
mod service_deployments;
mod service_revisions;
mod services;
mod tags;
mod task_definitions;
mod tasks;
#[cfg(test)]
pub(crate) mod testing;

use serde_json::Value;

use crate::error::EcsError;
use crate::model::State;

pub use input::Input;

/// Every operation the emulator answers, for the README and the unknown-operation check.
pub const OPERATIONS: &[&str] = &[
    "CreateCluster",
    "DeleteCluster",
    "DescribeClusters",
    "ListClusters",
    "RegisterTaskDefinition",
    "DescribeTaskDefinition",
    "DeregisterTaskDefinition",
    "ListTaskDefinitions",
    "ListTaskDefinitionFamilies",
    "CreateService",
    "UpdateService",
    "DescribeServices",
    "DeleteService",
    "ListServices",
    "ListTasks",
    "DescribeTasks",
    "RunTask",
    "StopTask",
    "ListServiceDeployments",
    "DescribeServiceDeployments",
    "StopServiceDeployment",
    "ContinueServiceDeployment",
    "DescribeServiceRevisions",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// Runs one operation against the state.
pub fn dispatch(
    state: &mut State,
    operation: &str,
    body: &Value,
    real_now: f64,
) -> Result<Value, EcsError> {
    let input = Input::new(body)?;
    match operation {
        "CreateCluster" => clusters::create_cluster(state, &input),
        "DeleteCluster" => clusters::delete_cluster(state, &input),
        "DescribeClusters" => clusters::describe_clusters(state, &input),
        "ListClusters" => clusters::list_clusters(state, &input),
        "RegisterTaskDefinition" => task_definitions::register(state, &input),
        "DescribeTaskDefinition" => task_definitions::describe(state, &input),
        "DeregisterTaskDefinition" => task_definitions::deregister(state, &input),
        "ListTaskDefinitions" => task_definitions::list(state, &input),
        "ListTaskDefinitionFamilies" => task_definitions::list_families(state, &input),
        "CreateService" => services::create_service(state, &input, real_now),
        "UpdateService" => services::update_service(state, &input, real_now),
        "DescribeServices" => services::describe_services(state, &input),
        "DeleteService" => services::delete_service(state, &input),
        "ListServices" => services::list_services(state, &input),
        "ListTasks" => tasks::list_tasks(state, &input),
        "DescribeTasks" => tasks::describe_tasks(state, &input),
        "RunTask" => tasks::run_task(state, &input),
        "StopTask" => tasks::stop_task(state, &input),
        "ListServiceDeployments" => service_deployments::list(state, &input),
        "DescribeServiceDeployments" => service_deployments::describe(state, &input),
        "StopServiceDeployment" => service_deployments::stop(state, &input, real_now),
        "ContinueServiceDeployment" => {
            continue_deployment::continue_deployment(state, &input, real_now)
        }
        "DescribeServiceRevisions" => service_revisions::describe(state, &input),
        "TagResource" => tags::tag_resource(state, &input),
        "UntagResource" => tags::untag_resource(state, &input),
        "ListTagsForResource" => tags::list_tags(state, &input),
        other => Err(EcsError::unknown_operation(other)),
    }
}
