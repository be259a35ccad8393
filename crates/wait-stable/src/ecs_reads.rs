//! The ECS read calls the waiter makes, and the translation of their answers into the plain views
//! `verdict` judges: DescribeServices (10 services a call, the API's limit), DescribeServiceDeployments
//! (20 ARNs a call), and ListTasks + DescribeTasks for the stopped tasks of a failed deployment.
//!
//! Errors are sorted here into what the waiter does with them: a missing cluster is the user's
//! to fix; throttling and server errors are retried at the next tick (the SDK has already retried
//! inside the call), so a storm costs ticks, never the deadline; anything else ends the wait.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ecs::types::{DesiredStatus, Service, Task};

use crate::model::{ContainerExit, ServiceEvent, StoppedTask};
use crate::verdict::{CircuitBreaker, DeploymentView, ServiceDeploymentView, ServiceView};

/// DescribeServices takes at most 10 services.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// DescribeServiceDeployments takes at most 20 ARNs.
const DESCRIBE_SERVICE_DEPLOYMENTS_BATCH: usize = 20;

/// One service as DescribeServices showed it.
#[derive(Debug, Clone)]
pub struct ServiceSnapshot {
    pub view: ServiceView,
    /// Newest first, as ECS returns them; `created_at` in seconds for ordering and filtering.
    pub events: Vec<(f64, ServiceEvent)>,
}

/// A DescribeServices answer for one cluster.
#[derive(Debug, Default)]
pub struct ClusterSnapshot {
    pub services: Vec<ServiceSnapshot>,
    /// `(identifier, reason)` from `failures[]`, e.g. `MISSING`.
    pub failures: Vec<(String, String)>,
}

/// What went wrong with a read, sorted by what the waiter does about it.
#[derive(Debug)]
pub enum ReadError {
    ClusterNotFound,
    /// Throttling, a server error, or the endpoint not answering: try again at the next tick.
    Retryable {
        error: dk_core::Error,
        unreachable: bool,
    },
    Fatal(dk_core::Error),
}

fn classify<E>(doing: &str, err: SdkError<E, HttpResponse>) -> ReadError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = dk_core::aws::error_code(&err).map(str::to_owned);
    let unreachable = matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    );
    if code.as_deref() == Some("ClusterNotFoundException") {
        return ReadError::ClusterNotFound;
    }
    let transient = dk_core::aws::is_transient(&err);
    let error = dk_core::aws::sdk_error(doing, err);
    if transient {
        ReadError::Retryable { error, unreachable }
    } else {
        ReadError::Fatal(error)
    }
}

/// DescribeServices for up to 10 services of one cluster.
pub async fn describe_services(
    ecs: &Client,
    cluster: &str,
    services: &[String],
) -> Result<ClusterSnapshot, ReadError> {
    debug_assert!(services.len() <= DESCRIBE_SERVICES_BATCH);
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services.to_vec()))
        .send()
        .await
        .map_err(|e| classify("describing services", e))?;
    Ok(ClusterSnapshot {
        services: out.services().iter().map(service_snapshot).collect(),
        failures: out
            .failures()
            .iter()
            .map(|f| {
                (
                    f.arn().unwrap_or_default().to_string(),
                    f.reason().unwrap_or("unknown").to_string(),
                )
            })
            .collect(),
    })
}

fn service_snapshot(s: &Service) -> ServiceSnapshot {
    let cb = s
        .deployment_configuration()
        .and_then(|c| c.deployment_circuit_breaker())
        .map(|cb| CircuitBreaker {
            enable: cb.enable(),
            rollback: cb.rollback(),
            threshold_type: cb
                .threshold_configuration()
                .map(|t| t.r#type().as_str().to_string()),
            threshold_value: cb.threshold_configuration().map(|t| t.value()),
        });
    let view = ServiceView {
        arn: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        task_definition: s.task_definition().map(str::to_owned),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentView {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
                desired: d.desired_count(),
                pending: d.pending_count(),
                running: d.running_count(),
                failed: d.failed_tasks(),
                created_at: d.created_at().map(DateTime::secs),
            })
            .collect(),
        current_service_deployment: s.current_service_deployment().map(str::to_owned),
        circuit_breaker: cb,
        controller: s
            .deployment_controller()
            .map(|c| c.r#type().as_str().to_string()),
    };
    let events = s
        .events()
        .iter()
        .map(|e| {
            let at = e.created_at();
            (
                at.map_or(0.0, DateTime::as_secs_f64),
                ServiceEvent {
                    id: e.id().unwrap_or_default().to_string(),
                    created_at: at.map(rfc3339).unwrap_or_default(),
                    message: e.message().unwrap_or_default().to_string(),
                },
            )
        })
        .collect();
    ServiceSnapshot { view, events }
}

pub fn rfc3339(t: &DateTime) -> String {
    t.fmt(DateTimeFormat::DateTime).unwrap_or_default()
}

/// DescribeServiceDeployments, best effort: `Err` carries a message for a one-time warning
/// (older endpoints and some emulators do not have the API; the waiter works without it).
pub async fn describe_service_deployments(
    ecs: &Client,
    arns: &[String],
) -> Result<Vec<ServiceDeploymentView>, String> {
    let mut views = Vec::new();
    for chunk in arns.chunks(DESCRIBE_SERVICE_DEPLOYMENTS_BATCH) {
        let out = ecs
            .describe_service_deployments()
            .set_service_deployment_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                dk_core::aws::sdk_error("describing service deployments", e)
                    .message()
                    .to_string()
            })?;
        views.extend(out.service_deployments().iter().map(|sd| {
            let cb = sd.deployment_circuit_breaker();
            ServiceDeploymentView {
                arn: sd.service_deployment_arn().unwrap_or_default().to_string(),
                status: sd
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                status_reason: sd.status_reason().map(str::to_owned),
                failure_count: cb.map(|c| c.failure_count()),
                threshold: cb.map(|c| c.threshold()).filter(|t| *t > 0),
            }
        }));
    }
    Ok(views)
}

/// Pages of stopped tasks read per lookup (100 tasks a page, DescribeTasks' limit too).
const STOPPED_TASK_PAGES: usize = 3;

/// The stopped tasks a deployment started, the ones that explain a failure first (failed to
/// start, container exited), then the newest; at most `limit`.
///
/// ListTasks refuses `startedBy` together with any other filter (M-ECS `ListTasksRequest`: "When
/// you specify startedBy as the filter, it must be the only filter that you use"), and alone it
/// lists only RUNNING tasks. So: the service's STOPPED tasks (`serviceName` + `desiredStatus`),
/// DescribeTasks, and `startedBy == deployment id` checked here.
pub async fn stopped_tasks(
    ecs: &Client,
    cluster: &str,
    service: &str,
    deployment_id: &str,
    limit: usize,
) -> Result<Vec<StoppedTask>, String> {
    let service = dk_core::ecs::last_segment(service);
    let mut found: Vec<Task> = Vec::new();
    let mut token = None;
    for _ in 0..STOPPED_TASK_PAGES {
        let listed = ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(DesiredStatus::Stopped)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                dk_core::aws::sdk_error("listing stopped tasks", e)
                    .message()
                    .to_string()
            })?;
        let arns: Vec<String> = listed.task_arns().to_vec();
        token = listed.next_token().map(str::to_owned);
        if !arns.is_empty() {
            let described = ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(arns))
                .send()
                .await
                .map_err(|e| {
                    dk_core::aws::sdk_error("describing stopped tasks", e)
                        .message()
                        .to_string()
                })?;
            found.extend(
                described
                    .tasks()
                    .iter()
                    .filter(|t| t.started_by() == Some(deployment_id))
                    .cloned(),
            );
        }
        if token.is_none() || found.len() >= limit * 4 {
            break;
        }
    }
    let mut tasks: Vec<(bool, f64, StoppedTask)> = found
        .iter()
        .map(|t| {
            let stop_code = t.stop_code().map(|c| c.as_str().to_string());
            let explains = stop_code.as_deref() != Some("ServiceSchedulerInitiated")
                || t.containers()
                    .iter()
                    .any(|c| c.exit_code().is_some_and(|x| x != 0));
            (
                explains,
                t.stopped_at().map_or(0.0, DateTime::as_secs_f64),
                StoppedTask {
                    task_arn: t.task_arn().unwrap_or_default().to_string(),
                    task_definition: t.task_definition_arn().map(str::to_owned),
                    stop_code,
                    stopped_reason: t.stopped_reason().map(str::to_owned),
                    stopped_at: t.stopped_at().map(rfc3339),
                    containers: t
                        .containers()
                        .iter()
                        .map(|c| ContainerExit {
                            name: c.name().unwrap_or_default().to_string(),
                            exit_code: c.exit_code(),
                            reason: c.reason().map(str::to_owned),
                            log_tail: Vec::new(),
                        })
                        .collect(),
                },
            )
        })
        .collect();
    tasks.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    Ok(tasks.into_iter().take(limit).map(|(_, _, t)| t).collect())
}

/// The service names of a cluster, for "did you mean" when a service is missing. Best effort.
pub async fn service_names(ecs: &Client, cluster: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let Ok(out) = ecs
            .list_services()
            .cluster(cluster)
            .set_next_token(token)
            .max_results(100)
            .send()
            .await
        else {
            break;
        };
        names.extend(
            out.service_arns()
                .iter()
                .map(|a| dk_core::ecs::last_segment(a).to_string()),
        );
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    names
}
