//! The RDS calls `rds-snapshot` makes, behind one type that hides the instance/cluster split:
//! instances use the `DBSnapshot` APIs, Aurora and Multi-AZ clusters the `DBClusterSnapshot`
//! APIs. Every list call follows `Marker` to the end.

use std::collections::BTreeMap;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot, Filter, Tag};
use dk_core::aws::sdk_error;
use dk_core::{Error, Result};
use serde::Serialize;

mod databases;
pub use databases::{DbState, RestoreTarget, cluster_engine};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Instance,
    Cluster,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Cluster => "cluster",
        }
    }
}

/// A snapshot of either kind, as `rds-snapshot` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub arn: String,
    pub db: String,
    pub kind: Kind,
    pub status: String,
    pub percent_progress: Option<i32>,
    /// RFC 3339, UTC.
    pub created: Option<String>,
    /// `manual`, `automated`, …
    pub snapshot_type: String,
    pub engine: Option<String>,
    #[serde(skip)]
    pub tags: BTreeMap<String, String>,
    pub owned: bool,
}

impl Snapshot {
    fn from_instance(s: &DbSnapshot) -> Self {
        Snapshot::owned_if_tagged(Snapshot {
            id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
            arn: s.db_snapshot_arn().unwrap_or_default().to_string(),
            db: s.db_instance_identifier().unwrap_or_default().to_string(),
            kind: Kind::Instance,
            status: s.status().unwrap_or("unknown").to_string(),
            percent_progress: s.percent_progress(),
            created: s.snapshot_create_time().map(|t| t.to_string()),
            snapshot_type: s.snapshot_type().unwrap_or("manual").to_string(),
            engine: s.engine().map(str::to_owned),
            tags: tag_map(s.tag_list()),
            owned: false,
        })
    }
    fn from_cluster(s: &DbClusterSnapshot) -> Self {
        Snapshot::owned_if_tagged(Snapshot {
            id: s
                .db_cluster_snapshot_identifier()
                .unwrap_or_default()
                .to_string(),
            arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
            db: s.db_cluster_identifier().unwrap_or_default().to_string(),
            kind: Kind::Cluster,
            status: s.status().unwrap_or("unknown").to_string(),
            percent_progress: s.percent_progress(),
            created: s.snapshot_create_time().map(|t| t.to_string()),
            snapshot_type: s.snapshot_type().unwrap_or("manual").to_string(),
            engine: s.engine().map(str::to_owned),
            tags: tag_map(s.tag_list()),
            owned: false,
        })
    }
    fn owned_if_tagged(mut self) -> Self {
        self.owned = crate::ownership::is_owned(&self.tags, &self.db);
        self
    }
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }
    /// Terminal states a wait cannot recover from (the RDS waiters' failure acceptors).
    pub fn has_failed(&self) -> bool {
        matches!(
            self.status.as_str(),
            "failed" | "deleted" | "deleting" | "incompatible-restore" | "incompatible-parameters"
        )
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn to_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// A database identifier resolved to what it is.
#[derive(Debug, Clone)]
pub struct Database {
    pub id: String,
    pub kind: Kind,
    pub status: String,
}

pub struct Rds<'a> {
    pub client: &'a Client,
}

impl Rds<'_> {
    /// Is `id` an instance or a cluster? An instance that belongs to a cluster is snapshotted
    /// through its cluster (RDS refuses instance snapshots of Aurora members).
    pub async fn find_database(&self, id: &str) -> Result<Option<Database>> {
        match self
            .client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(out) => {
                if let Some(i) = out.db_instances().first() {
                    if let Some(cluster) = i.db_cluster_identifier() {
                        return self.find_cluster(cluster).await;
                    }
                    return Ok(Some(Database {
                        id: id.to_string(),
                        kind: Kind::Instance,
                        status: i.db_instance_status().unwrap_or("unknown").to_string(),
                    }));
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_instance_not_found_fault()) => {}
            Err(e) => return Err(sdk_error(&format!("looking up DB instance {id}"), e)),
        }
        self.find_cluster(id).await
    }

    async fn find_cluster(&self, id: &str) -> Result<Option<Database>> {
        match self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_clusters().first().map(|c| Database {
                id: id.to_string(),
                kind: Kind::Cluster,
                status: c.status().unwrap_or("unknown").to_string(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(&format!("looking up DB cluster {id}"), e)),
        }
    }

    /// Every database identifier, for "did you mean" hints.
    pub async fn database_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .describe_db_instances()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| sdk_error("listing DB instances", e))?;
            ids.extend(
                out.db_instances()
                    .iter()
                    .filter_map(|i| i.db_instance_identifier().map(str::to_owned)),
            );
            marker = out.marker().map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        let out = self
            .client
            .describe_db_clusters()
            .send()
            .await
            .map_err(|e| sdk_error("listing DB clusters", e))?;
        ids.extend(
            out.db_clusters()
                .iter()
                .filter_map(|c| c.db_cluster_identifier().map(str::to_owned)),
        );
        Ok(ids)
    }

    /// One snapshot by id, of either kind (`kind` narrows the search when known).
    pub async fn snapshot(&self, id: &str, kind: Option<Kind>) -> Result<Option<Snapshot>> {
        if kind != Some(Kind::Cluster) {
            match self
                .client
                .describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await
            {
                Ok(out) => {
                    if let Some(s) = out.db_snapshots().first() {
                        return Ok(Some(Snapshot::from_instance(s)));
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_db_snapshot_not_found_fault()) => {}
                Err(e) => return Err(sdk_error(&format!("describing snapshot {id}"), e)),
            }
        }
        if kind != Some(Kind::Instance) {
            match self
                .client
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await
            {
                Ok(out) => {
                    if let Some(s) = out.db_cluster_snapshots().first() {
                        return Ok(Some(Snapshot::from_cluster(s)));
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) => {}
                Err(e) => return Err(sdk_error(&format!("describing cluster snapshot {id}"), e)),
            }
        }
        Ok(None)
    }

    /// All snapshots of a database (manual and automated), newest first.
    pub async fn snapshots_of(&self, db: &Database) -> Result<Vec<Snapshot>> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            match db.kind {
                Kind::Instance => {
                    let out = self
                        .client
                        .describe_db_snapshots()
                        .filters(filter("db-instance-id", &db.id))
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| sdk_error(&format!("listing snapshots of {}", db.id), e))?;
                    all.extend(out.db_snapshots().iter().map(Snapshot::from_instance));
                    marker = out.marker().map(str::to_owned);
                }
                Kind::Cluster => {
                    let out = self
                        .client
                        .describe_db_cluster_snapshots()
                        .filters(filter("db-cluster-id", &db.id))
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| sdk_error(&format!("listing snapshots of {}", db.id), e))?;
                    all.extend(
                        out.db_cluster_snapshots()
                            .iter()
                            .map(Snapshot::from_cluster),
                    );
                    marker = out.marker().map(str::to_owned);
                }
            }
            if marker.is_none() {
                break;
            }
        }
        // RFC 3339 UTC strings sort chronologically.
        all.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(all)
    }

    /// Manual snapshots of this kind in the account and Region, for the quota check.
    pub async fn manual_snapshot_count(&self, kind: Kind) -> Result<usize> {
        let mut count = 0;
        let mut marker: Option<String> = None;
        loop {
            match kind {
                Kind::Instance => {
                    let out = self
                        .client
                        .describe_db_snapshots()
                        .snapshot_type("manual")
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| sdk_error("counting manual snapshots", e))?;
                    count += out
                        .db_snapshots()
                        .iter()
                        .filter(|s| s.snapshot_type() == Some("manual"))
                        .count();
                    marker = out.marker().map(str::to_owned);
                }
                Kind::Cluster => {
                    let out = self
                        .client
                        .describe_db_cluster_snapshots()
                        .snapshot_type("manual")
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| sdk_error("counting manual cluster snapshots", e))?;
                    count += out
                        .db_cluster_snapshots()
                        .iter()
                        .filter(|s| s.snapshot_type() == Some("manual"))
                        .count();
                    marker = out.marker().map(str::to_owned);
                }
            }
            if marker.is_none() {
                return Ok(count);
            }
        }
    }

    /// The account's manual-snapshot quota, when RDS reports it (DescribeAccountAttributes).
    pub async fn manual_snapshot_quota(&self, kind: Kind) -> Option<i64> {
        let name = match kind {
            Kind::Instance => "ManualSnapshots",
            Kind::Cluster => "ManualClusterSnapshots",
        };
        // Informational: one attempt, no retries — a failure falls back to the default quota.
        let out = self
            .client
            .describe_account_attributes()
            .customize()
            .config_override(
                aws_sdk_rds::config::Builder::default()
                    .retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .ok()?;
        out.account_quotas()
            .iter()
            .find(|q| q.account_quota_name() == Some(name))
            .and_then(|q| q.max())
    }

    pub async fn create_snapshot(
        &self,
        db: &Database,
        id: &str,
        tags: &[(String, String)],
    ) -> Result<Snapshot> {
        let quota_hint = "delete old snapshots (rds-snapshot prune --db DB --keep N) or ask AWS to raise the quota";
        match db.kind {
            Kind::Instance => {
                let out = self
                    .client
                    .create_db_snapshot()
                    .db_snapshot_identifier(id)
                    .db_instance_identifier(&db.id)
                    .set_tags(Some(to_tags(tags)))
                    .send()
                    .await
                    .map_err(|e| match e.as_service_error() {
                        Some(s) if s.is_snapshot_quota_exceeded_fault() => {
                            Error::failed("the manual snapshot quota is reached")
                                .with_hint(quota_hint)
                        }
                        Some(s) if s.is_invalid_db_instance_state_fault() => {
                            Error::failed(format!(
                                "DB instance {} cannot be snapshotted in its current state",
                                db.id
                            ))
                            .with_hint("wait until the instance is `available`, then run again")
                        }
                        _ => sdk_error(&format!("creating snapshot {id}"), e),
                    })?;
                out.db_snapshot()
                    .map(Snapshot::from_instance)
                    .ok_or_else(|| Error::runtime("CreateDBSnapshot returned no snapshot"))
            }
            Kind::Cluster => {
                let out = self
                    .client
                    .create_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(id)
                    .db_cluster_identifier(&db.id)
                    .set_tags(Some(to_tags(tags)))
                    .send()
                    .await
                    .map_err(|e| match e.as_service_error() {
                        Some(s) if s.is_snapshot_quota_exceeded_fault() => {
                            Error::failed("the manual cluster snapshot quota is reached")
                                .with_hint(quota_hint)
                        }
                        Some(s) if s.is_invalid_db_cluster_state_fault() => Error::failed(format!(
                            "DB cluster {} cannot be snapshotted in its current state",
                            db.id
                        ))
                        .with_hint("wait until the cluster is `available`, then run again"),
                        _ => sdk_error(&format!("creating cluster snapshot {id}"), e),
                    })?;
                out.db_cluster_snapshot()
                    .map(Snapshot::from_cluster)
                    .ok_or_else(|| Error::runtime("CreateDBClusterSnapshot returned no snapshot"))
            }
        }
    }

    pub async fn delete_snapshot(&self, s: &Snapshot) -> Result<()> {
        match s.kind {
            Kind::Instance => match self
                .client
                .delete_db_snapshot()
                .db_snapshot_identifier(&s.id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                // Already gone (a re-run after a crash): the goal is reached.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|x| x.is_db_snapshot_not_found_fault()) =>
                {
                    Ok(())
                }
                Err(e) => Err(sdk_error(&format!("deleting snapshot {}", s.id), e)),
            },
            Kind::Cluster => match self
                .client
                .delete_db_cluster_snapshot()
                .db_cluster_snapshot_identifier(&s.id)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|x| x.is_db_cluster_snapshot_not_found_fault()) =>
                {
                    Ok(())
                }
                Err(e) => Err(sdk_error(&format!("deleting cluster snapshot {}", s.id), e)),
            },
        }
    }
}
