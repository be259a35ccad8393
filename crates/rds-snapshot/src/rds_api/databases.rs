//! The RDS calls on databases (not snapshots): the state of an instance or cluster, its tags,
//! restoring one from a snapshot, and an Aurora cluster's writer instance.

use std::collections::BTreeMap;

use dk_core::aws::sdk_error;
use dk_core::{Error, Result};
use serde::Serialize;

use super::{Kind, Rds, Snapshot, tag_map, to_tags};

/// A restored instance or cluster: its status and, once available, its endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct DbState {
    pub id: String,
    pub status: String,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
}

impl DbState {
    /// `host:port`, `host`, or empty while RDS has not assigned one.
    pub fn endpoint_text(&self) -> String {
        match (&self.endpoint, self.port) {
            (Some(e), Some(p)) => format!("{e}:{p}"),
            (Some(e), None) => e.clone(),
            _ => String::new(),
        }
    }
}

/// The engine a cluster restore needs: the snapshot's, else Aurora PostgreSQL.
pub fn cluster_engine(snapshot: &Snapshot) -> String {
    snapshot
        .engine
        .clone()
        .unwrap_or_else(|| "aurora-postgresql".into())
}

impl Rds<'_> {
    pub async fn db_state(&self, id: &str, kind: Kind) -> Result<DbState> {
        match kind {
            Kind::Instance => {
                let out = self
                    .client
                    .describe_db_instances()
                    .db_instance_identifier(id)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("describing DB instance {id}"), e))?;
                let i = out
                    .db_instances()
                    .first()
                    .ok_or_else(|| Error::failed(format!("DB instance {id} is gone")))?;
                Ok(DbState {
                    id: id.to_string(),
                    status: i.db_instance_status().unwrap_or("unknown").to_string(),
                    endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_owned),
                    port: i.endpoint().and_then(|e| e.port()),
                })
            }
            Kind::Cluster => {
                let out = self
                    .client
                    .describe_db_clusters()
                    .db_cluster_identifier(id)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("describing DB cluster {id}"), e))?;
                let c = out
                    .db_clusters()
                    .first()
                    .ok_or_else(|| Error::failed(format!("DB cluster {id} is gone")))?;
                Ok(DbState {
                    id: id.to_string(),
                    status: c.status().unwrap_or("unknown").to_string(),
                    endpoint: c.endpoint().map(str::to_owned),
                    port: c.port(),
                })
            }
        }
    }

    /// The tags of an instance or cluster; empty when it has no ARN (it is going away).
    pub async fn database_tags(&self, id: &str, kind: Kind) -> Result<BTreeMap<String, String>> {
        let arn = match kind {
            Kind::Instance => self
                .client
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .map_err(|e| sdk_error("describing the restore target", e))?
                .db_instances()
                .first()
                .and_then(|i| i.db_instance_arn().map(str::to_owned)),
            Kind::Cluster => self
                .client
                .describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await
                .map_err(|e| sdk_error("describing the restore target", e))?
                .db_clusters()
                .first()
                .and_then(|c| c.db_cluster_arn().map(str::to_owned)),
        };
        let Some(arn) = arn else {
            return Ok(BTreeMap::new());
        };
        let out = self
            .client
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| sdk_error("reading the restore target's tags", e))?;
        Ok(tag_map(out.tag_list()))
    }

    /// Start restoring `snapshot` to a new instance or cluster named `target`.
    pub async fn restore(
        &self,
        snapshot: &Snapshot,
        target: &RestoreTarget<'_>,
        tags: &[(String, String)],
    ) -> Result<()> {
        let what = format!("restoring {} from {}", target.id, snapshot.id);
        match snapshot.kind {
            Kind::Instance => self
                .client
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(target.id)
                .db_snapshot_identifier(&snapshot.id)
                .set_db_instance_class(target.instance_class.map(str::to_owned))
                .set_db_subnet_group_name(target.subnet_group.map(str::to_owned))
                .set_tags(Some(to_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(&what, e)),
            Kind::Cluster => self
                .client
                .restore_db_cluster_from_snapshot()
                .db_cluster_identifier(target.id)
                .snapshot_identifier(&snapshot.id)
                .engine(cluster_engine(snapshot))
                .set_db_subnet_group_name(target.subnet_group.map(str::to_owned))
                .set_tags(Some(to_tags(tags)))
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(&format!("cluster {what}"), e)),
        }
    }

    /// Does the DB instance `id` exist?
    pub async fn instance_exists(&self, id: &str) -> Result<bool> {
        Ok(self.instance(id).await?.is_some())
    }

    /// Create instance `id` of class `class` inside Aurora cluster `cluster`.
    pub async fn create_cluster_instance(
        &self,
        id: &str,
        cluster: &str,
        engine: &str,
        class: &str,
    ) -> Result<()> {
        self.client
            .create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(cluster)
            .engine(engine)
            .db_instance_class(class)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(&format!("creating writer instance {id}"), e))
    }
}

/// Where a restore goes: a new database name and its optional placement.
pub struct RestoreTarget<'a> {
    pub id: &'a str,
    pub instance_class: Option<&'a str>,
    pub subnet_group: Option<&'a str>,
}
