//! The RDS calls `rds-snapshot` makes, behind one type that hides the instance/cluster split:
//! instances use the `DBSnapshot` APIs, Aurora and Multi-AZ clusters the `DBClusterSnapshot`
//! APIs. Every list call follows `Marker` to the end.

use std::collections::BTreeMap;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbClusterSnapshot, DbInstance, DbSnapshot, Filter, Tag};
use dk_core::aws::{sdk_error, unless_not_found};
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
        if let Some(i) = self.instance(id).await? {
            if let Some(cluster) = i.db_cluster_identifier() {
                return self.find_cluster(cluster).await;
            }
            return Ok(Some(Database {
                id: id.to_string(),
                kind: Kind::Instance,
                status: i.db_instance_status().unwrap_or("unknown").to_string(),
            }));
        }
        self.find_cluster(id).await
    }

    /// The DB instance `id`, `None` when there is none.
    async fn instance(&self, id: &str) -> Result<Option<DbInstance>> {
        let sent = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await;
        let found = unless_not_found(
            sent,
            |e| e.is_db_instance_not_found_fault(),
            || format!("looking up DB instance {id}"),
        )?;
        Ok(found.and_then(|out| out.db_instances().first().cloned()))
    }

    async fn find_cluster(&self, id: &str) -> Result<Option<Database>> {
        let sent = self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await;
        let found = unless_not_found(
            sent,
            |e| e.is_db_cluster_not_found_fault(),
            || format!("looking up DB cluster {id}"),
        )?;
        Ok(found.and_then(|out| {
            out.db_clusters().first().map(|c| Database {
                id: id.to_string(),
                kind: Kind::Cluster,
                status: c.status().unwrap_or("unknown").to_string(),
            })
        }))
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
            let sent = self
                .client
                .describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await;
            let found = unless_not_found(
                sent,
                |e| e.is_db_snapshot_not_found_fault(),
                || format!("describing snapshot {id}"),
            )?;
            if let Some(s) = found.as_ref().and_then(|out| out.db_snapshots().first()) {
                return Ok(Some(Snapshot::from_instance(s)));
            }
        }
        if kind != Some(Kind::Instance) {
            let sent = self
                .client
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await;
            let found = unless_not_found(
                sent,
                |e| e.is_db_cluster_snapshot_not_found_fault(),
                || format!("describing cluster snapshot {id}"),
            )?;
            if let Some(s) = found
                .as_ref()
                .and_then(|out| out.db_cluster_snapshots().first())
            {
                return Ok(Some(Snapshot::from_cluster(s)));
            }
        }
        Ok(None)
    }

    /// All snapshots of a database (manual and automated), newest first.
    pub async fn snapshots_of(&self, db: &Database) -> Result<Vec<Snapshot>> {
        let by_db = match db.kind {
            Kind::Instance => filter("db-instance-id", &db.id),
            Kind::Cluster => filter("db-cluster-id", &db.id),
        };
        let doing = format!("listing snapshots of {}", db.id);
        let mut all = self.list(db.kind, Some(by_db), None, &doing).await?;
        // RFC 3339 UTC strings sort chronologically.
        all.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(all)
    }

    /// Manual snapshots of this kind in the account and Region, for the quota check.
    pub async fn manual_snapshot_count(&self, kind: Kind) -> Result<usize> {
        let doing = match kind {
            Kind::Instance => "counting manual snapshots",
            Kind::Cluster => "counting manual cluster snapshots",
        };
        let manual = self.list(kind, None, Some("manual"), doing).await?;
        Ok(manual
            .iter()
            .filter(|s| s.snapshot_type == "manual")
            .count())
    }

    /// Every snapshot of `kind` that matches `filter` and `snapshot_type`, page after page.
    async fn list(
        &self,
        kind: Kind,
        filter: Option<Filter>,
        snapshot_type: Option<&str>,
        doing: &str,
    ) -> Result<Vec<Snapshot>> {
        let (filters, snapshot_type) = (filter.map(|f| vec![f]), snapshot_type.map(str::to_owned));
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            marker = match kind {
                Kind::Instance => {
                    let out = self
                        .client
                        .describe_db_snapshots()
                        .set_filters(filters.clone())
                        .set_snapshot_type(snapshot_type.clone())
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| sdk_error(doing, e))?;
                    all.extend(out.db_snapshots().iter().map(Snapshot::from_instance));
                    out.marker
                }
                Kind::Cluster => {
                    let out = self
                        .client
                        .describe_db_cluster_snapshots()
                        .set_filters(filters.clone())
                        .set_snapshot_type(snapshot_type.clone())
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| sdk_error(doing, e))?;
                    all.extend(
                        out.db_cluster_snapshots()
                            .iter()
                            .map(Snapshot::from_cluster),
                    );
                    out.marker
                }
            };
            if marker.is_none() {
                return Ok(all);
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

    /// Delete a snapshot; one already gone (a re-run after a crash) has reached the goal.
    pub async fn delete_snapshot(&self, s: &Snapshot) -> Result<()> {
        match s.kind {
            Kind::Instance => {
                let sent = self
                    .client
                    .delete_db_snapshot()
                    .db_snapshot_identifier(&s.id)
                    .send()
                    .await;
                unless_not_found(
                    sent,
                    |e| e.is_db_snapshot_not_found_fault(),
                    || format!("deleting snapshot {}", s.id),
                )
                .map(drop)
            }
            Kind::Cluster => {
                let sent = self
                    .client
                    .delete_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(&s.id)
                    .send()
                    .await;
                unless_not_found(
                    sent,
                    |e| e.is_db_cluster_snapshot_not_found_fault(),
                    || format!("deleting cluster snapshot {}", s.id),
                )
                .map(drop)
            }
        }
    }
}
