//! CreateCluster, DeleteCluster, DescribeClusters, ListClusters.
//!
//! Clusters are only namespaces here (no container instances or capacity), but tools check
//! that they exist, so missing and deleted clusters answer as on AWS.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::input::{Input, cluster};
use super::tags::{apply_tags, parse_tags};
use crate::error::EcsError;
use crate::ids;
use crate::model::{Cluster, State};
use crate::render::render_cluster;

pub fn create_cluster(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let name = input.str("clusterName")?.unwrap_or("default").to_string();
    if !ids::valid_name(&name) {
        return Err(EcsError::invalid_parameter(
            "Cluster name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.",
        ));
    }
    let tags = parse_tags(input.value("tags"))?;
    // CreateCluster is idempotent on AWS: an existing ACTIVE cluster is returned as is.
    let exists = state
        .clusters
        .get(&name)
        .is_some_and(|c| c.status == "ACTIVE");
    if !exists {
        let arn = ids::cluster_arn(&name);
        state.clusters.insert(
            name.clone(),
            Cluster {
                name: name.clone(),
                arn,
                status: "ACTIVE".to_string(),
                settings: input
                    .value("settings")
                    .cloned()
                    .unwrap_or_else(|| json!([{"name": "containerInsights", "value": "disabled"}])),
                configuration: input.value("configuration").cloned(),
                capacity_providers: input.value_or_empty_list("capacityProviders"),
                default_capacity_provider_strategy: input
                    .value_or_empty_list("defaultCapacityProviderStrategy"),
                services: BTreeMap::new(),
                tasks: Vec::new(),
            },
        );
    }
    let arn = ids::cluster_arn(&name);
    apply_tags(state, &arn, tags);
    let cluster = cluster(state, &name)?;
    Ok(json!({"cluster": render_cluster(state, cluster, true)}))
}

pub fn delete_cluster(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let name = ids::last_segment(input.required_str("cluster")?).to_string();
    let c = cluster(state, &name)?;
    if c.services.values().any(|s| s.status != "INACTIVE") {
        return Err(EcsError::client_exception(
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if c.tasks.iter().any(|t| !t.is_stopped()) {
        return Err(EcsError::client_exception(
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    if let Some(c) = state.clusters.get_mut(&name) {
        c.status = "INACTIVE".to_string();
    }
    let c = state
        .clusters
        .get(&name)
        .ok_or_else(EcsError::cluster_not_found)?;
    Ok(json!({"cluster": render_cluster(state, c, false)}))
}

pub fn describe_clusters(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let include_tags = input.include_tags()?;
    let names = input
        .strings("clusters")?
        .unwrap_or_else(|| vec!["default"]);
    if names.len() > 100 {
        return Err(EcsError::invalid_parameter(
            "clusters can have at most 100 items.",
        ));
    }
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for reference in names {
        let name = ids::last_segment(reference);
        match state.clusters.get(name) {
            // INACTIVE clusters are still described on AWS, with status INACTIVE.
            Some(c) => clusters.push(render_cluster(state, c, include_tags)),
            None => failures.push(json!({"arn": ids::cluster_arn(name), "reason": "MISSING"})),
        }
    }
    Ok(json!({"clusters": clusters, "failures": failures}))
}

pub fn list_clusters(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let arns: Vec<String> = state
        .clusters
        .values()
        .filter(|c| c.status == "ACTIVE")
        .map(|c| c.arn.clone())
        .collect();
    let (page, next) = input.page(arns, 100, 100)?;
    Ok(json!({"clusterArns": page, "nextToken": next}))
}
