//! `rds-snapshot` end to end: the real binary against the moto server, each test in its own
//! moto account so tests never see each other's databases or snapshots.

use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;
use test_support::{
    AwsAccount, Cmd, DelayProxy, DelayRule, MotoSession, Output, standins, unique, unused_port,
};

struct Fixture {
    account: AwsAccount,
    rds: Client,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Self {
        let MotoSession {
            account,
            rt,
            config,
        } = MotoSession::start();
        Fixture {
            rds: Client::new(&config),
            account,
            rt,
        }
    }

    fn instance(&self, id: &str) {
        self.rt
            .block_on(test_support::postgres_instance(&self.rds, id).send())
            .unwrap();
    }

    fn cluster(&self, id: &str) {
        self.rt
            .block_on(
                self.rds
                    .create_db_cluster()
                    .db_cluster_identifier(id)
                    .engine("aurora-postgresql")
                    .master_username("app")
                    .master_user_password("correct-horse-battery")
                    .send(),
            )
            .unwrap();
    }

    /// A manual snapshot made by someone else (no ownership tags).
    fn foreign_snapshot(&self, db: &str, id: &str) {
        self.rt
            .block_on(
                self.rds
                    .create_db_snapshot()
                    .db_instance_identifier(db)
                    .db_snapshot_identifier(id)
                    .tags(Tag::builder().key("managed-by").value("terraform").build())
                    .send(),
            )
            .unwrap();
    }

    fn snapshot_ids(&self, db: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.rds
                    .describe_db_snapshots()
                    .db_instance_identifier(db)
                    .send(),
            )
            .unwrap();
        let mut ids: Vec<String> = out
            .db_snapshots()
            .iter()
            .filter_map(|s| s.db_snapshot_identifier().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    fn cmd(&self) -> Cmd {
        Cmd::bin("rds-snapshot").aws(&self.account)
    }

    /// `create --db DB --snapshot-id ID EXTRA…`, which must succeed (set-up for later steps).
    fn create(&self, db: &str, id: &str, extra: &[&str]) {
        self.cmd()
            .args(["create", "--db", db, "--snapshot-id", id])
            .args(extra.iter().copied())
            .run()
            .assert_code(0);
    }

    /// Runs the tool with `args` and `--output json`.
    fn run_json(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args.iter().copied())
            .args(["--output", "json"])
            .run()
    }
}

/// Creating a snapshot of an instance waits until available, tags it as ours and reports it.
#[test]
fn create_instance_snapshot() {
    let f = Fixture::new();
    f.instance("app-db");
    let out = f.run_json(&[
        "create",
        "--db",
        "app-db",
        "--snapshot-id",
        "pre-1",
        "--tag",
        "release=42",
    ]);
    out.assert_code(0).assert_no_panic();
    let j = out.json();
    assert_eq!(j["result"], "created");
    assert_eq!(j["outcome"], "succeeded");
    assert_eq!(j["snapshot_id"], "pre-1");
    assert_eq!(j["kind"], "instance");
    assert_eq!(j["status"], "available");
    assert!(
        j["snapshot_arn"]
            .as_str()
            .unwrap()
            .ends_with(":snapshot:pre-1"),
        "{j}"
    );
    let tags =
        f.rt.block_on(
            f.rds
                .describe_db_snapshots()
                .db_snapshot_identifier("pre-1")
                .send(),
        )
        .unwrap()
        .db_snapshots()[0]
            .tag_list()
            .iter()
            .map(|t| format!("{}={}", t.key().unwrap(), t.value().unwrap()))
            .collect::<Vec<_>>();
    for want in [
        "managed-by=deploy-kit",
        "deploy-kit:db=app-db",
        "release=42",
    ] {
        assert!(
            tags.contains(&want.to_string()),
            "{want} missing from {tags:?}"
        );
    }
}

/// An Aurora cluster id is detected and snapshotted through the cluster API.
#[test]
fn create_cluster_snapshot() {
    let f = Fixture::new();
    f.cluster("app-cluster");
    let out = f.run_json(&["create", "--db", "app-cluster", "--snapshot-id", "pre-c1"]);
    out.assert_code(0);
    let j = out.json();
    assert_eq!(j["kind"], "cluster");
    assert_eq!(j["snapshot_id"], "pre-c1");
    let snaps =
        f.rt.block_on(
            f.rds
                .describe_db_cluster_snapshots()
                .db_cluster_identifier("app-cluster")
                .send(),
        )
        .unwrap();
    let manual: Vec<_> = snaps
        .db_cluster_snapshots()
        .iter()
        .filter(|s| s.snapshot_type() == Some("manual"))
        .filter_map(|s| s.db_cluster_snapshot_identifier())
        .collect();
    assert_eq!(manual, vec!["pre-c1"]);
}

/// Re-running with the same id for the same database succeeds without a second snapshot.
#[test]
fn rerun_is_idempotent() {
    let f = Fixture::new();
    f.instance("app-db");
    f.create("app-db", "pre-2", &[]);
    let before = f.snapshot_ids("app-db");
    let out = f.run_json(&["create", "--db", "app-db", "--snapshot-id", "pre-2"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "exists");
    assert_eq!(f.snapshot_ids("app-db"), before);
}

/// A snapshot id already used for another database is refused, not reused.
#[test]
fn id_of_another_database_is_refused() {
    let f = Fixture::new();
    f.instance("app-db");
    f.instance("billing-db");
    f.create("billing-db", "shared-id", &[]);
    let out = f
        .cmd()
        .args(["create", "--db", "app-db", "--snapshot-id", "shared-id"])
        .run();
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("already used by a snapshot of `billing-db`"),
        "{}",
        out.stderr
    );
}

/// At the manual-snapshot quota nothing is created and the failure says how to free room.
#[test]
fn quota_refusal() {
    let f = Fixture::new();
    f.instance("app-db");
    f.create("app-db", "q1", &["--snapshot-quota", "2"]);
    f.create("app-db", "q2", &["--snapshot-quota", "2"]);
    let before = f.snapshot_ids("app-db");
    let out = f
        .cmd()
        .github_actions()
        .args([
            "create",
            "--db",
            "app-db",
            "--snapshot-id",
            "q3",
            "--snapshot-quota",
            "2",
        ])
        .run();
    out.assert_code(1);
    assert_eq!(out.output("result"), "quota_reached");
    assert!(
        out.stderr.contains("2 of 2 manual instance snapshots"),
        "{}",
        out.stderr
    );
    assert!(
        out.summary.contains("rds-snapshot prune"),
        "{}",
        out.summary
    );
    assert!(
        out.stderr.contains("::error title=rds-snapshot::"),
        "{}",
        out.stderr
    );
    assert_eq!(f.snapshot_ids("app-db"), before);
}

/// Invalid identifiers exit 2 naming the rule, before any AWS call (the endpoint is dead).
#[test]
fn bad_identifiers_exit_2_without_network() {
    let dead = format!("http://127.0.0.1:{}", unused_port());
    for (args, needle) in [
        (vec!["create", "--db", "1app"], "must start with a letter"),
        (vec!["create", "--db", "app_db"], "contains `_`"),
        (
            vec!["create", "--db", "app-db", "--snapshot-id", "pre--1"],
            "two consecutive hyphens",
        ),
        (
            vec!["create", "--db", "app-db", "--tag", "aws:x=1"],
            "reserved",
        ),
        (
            vec!["restore", "--snapshot-id", "s1", "--target", "new-db-"],
            "end with a hyphen",
        ),
        (vec!["prune", "--db", "app-db"], "--keep"),
        (
            vec!["create", "--db", "app-db", "--timeout", "soon"],
            "not a duration",
        ),
        // One set of wait bounds (core's WaitArgs): the wait polls at least once.
        (
            vec![
                "create",
                "--db",
                "app-db",
                "--timeout",
                "5s",
                "--interval",
                "10s",
            ],
            "longer than --timeout",
        ),
        (
            vec![
                "restore",
                "--snapshot-id",
                "s1",
                "--target",
                "new-db",
                "--interval",
                "2h",
            ],
            "out of range",
        ),
    ] {
        let out = Cmd::bin("rds-snapshot")
            .envs([
                ("AWS_ENDPOINT_URL", dead.as_str()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "x"),
                ("AWS_SECRET_ACCESS_KEY", "x"),
            ])
            .args(args.clone())
            .run();
        out.assert_code(2).assert_no_panic();
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(
            out.elapsed < Duration::from_secs(2),
            "{args:?} took {:?}",
            out.elapsed
        );
    }
}

/// A database that does not exist is an input error with a near-miss suggestion.
#[test]
fn unknown_database_suggests_near_miss() {
    let f = Fixture::new();
    f.instance("app-db");
    let out = f.cmd().args(["create", "--db", "app-dbb"]).run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("did you mean `app-db`?"),
        "{}",
        out.stderr
    );
}

/// Prune keeps our newest N and never touches automated or foreign snapshots.
#[test]
fn prune_keeps_n_and_spares_others() {
    let f = Fixture::new();
    f.instance("app-db");
    f.foreign_snapshot("app-db", "terraform-snap");
    for id in ["ours-1", "ours-2", "ours-3", "ours-4"] {
        f.create("app-db", id, &[]);
        std::thread::sleep(Duration::from_millis(20)); // distinct creation times
    }
    let automated: Vec<String> = f
        .snapshot_ids("app-db")
        .into_iter()
        .filter(|s| s.starts_with("rds:"))
        .collect();
    assert_eq!(
        automated.len(),
        1,
        "moto makes one automated snapshot per instance"
    );

    let dry = f.run_json(&["prune", "--db", "app-db", "--keep", "2", "--dry-run"]);
    dry.assert_code(0);
    assert_eq!(dry.json()["deleted"], "ours-2,ours-1");
    assert_eq!(
        f.snapshot_ids("app-db").len(),
        6,
        "dry run deleted something"
    );

    let out = f
        .cmd()
        .github_actions()
        .args(["prune", "--db", "app-db", "--keep", "2"])
        .run();
    out.assert_code(0);
    assert_eq!(out.output("deleted_count"), "2");
    let mut expect = vec![
        "ours-3".to_string(),
        "ours-4".to_string(),
        "terraform-snap".to_string(),
        automated[0].clone(),
    ];
    expect.sort();
    assert_eq!(f.snapshot_ids("app-db"), expect);
    // Running again deletes nothing more.
    let again = f.run_json(&["prune", "--db", "app-db", "--keep", "2"]);
    assert_eq!(again.json()["deleted_count"], 0);
}

/// List shows ours and the automated ones, newest first, as a table and as JSON.
#[test]
fn list_newest_first() {
    let f = Fixture::new();
    f.instance("app-db");
    f.create("app-db", "older", &[]);
    std::thread::sleep(Duration::from_millis(20));
    f.create("app-db", "newer", &[]);
    let out = f.cmd().args(["list", "--db", "app-db"]).run();
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("SNAPSHOT"), "{}", out.stdout);
    assert!(
        lines[1].starts_with("newer") && lines[1].contains("rds-snapshot"),
        "{}",
        out.stdout
    );
    assert!(lines[2].starts_with("older"), "{}", out.stdout);
    assert!(out.stdout.contains("aws (automated)"), "{}", out.stdout);
    let j = f.run_json(&["list", "--db", "app-db"]).json();
    assert_eq!(j["count"], 3);
    assert_eq!(j["detail"][0]["id"], "newer");
    assert_eq!(j["detail"][0]["owned"], true);
}

/// Restore creates a NEW instance and outputs its endpoint; an existing target is refused.
#[test]
fn restore_to_new_instance_only() {
    let f = Fixture::new();
    f.instance("app-db");
    f.create("app-db", "pre-r", &[]);
    let out = f
        .cmd()
        .github_actions()
        .args([
            "restore",
            "--snapshot-id",
            "pre-r",
            "--target",
            "app-db-restored",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.output("result"), "restored");
    assert!(
        out.output("endpoint").starts_with("app-db-restored."),
        "{:?}",
        out.outputs
    );
    let refused = f
        .cmd()
        .args(["restore", "--snapshot-id", "pre-r", "--target", "app-db"])
        .run();
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("never overwrites a live database"),
        "{}",
        refused.stderr
    );
    // Re-running the same restore is recognised as ours and just waits for it.
    let again = f.run_json(&[
        "restore",
        "--snapshot-id",
        "pre-r",
        "--target",
        "app-db-restored",
    ]);
    again.assert_code(0);
    assert_eq!(again.json()["result"], "exists");
}

/// A cluster snapshot restores to a NEW cluster; with --instance-class its writer instance is
/// created in it too, and a re-run finds both instead of doubling them.
#[test]
fn restore_cluster_with_writer() {
    let f = Fixture::new();
    f.cluster("app-cluster");
    f.create("app-cluster", "pre-cr", &[]);
    let args = [
        "restore",
        "--snapshot-id",
        "pre-cr",
        "--target",
        "app-cluster-r",
        "--instance-class",
        "db.r6g.large",
        "--output",
        "json",
    ];
    let out = f.cmd().args(args).run();
    out.assert_code(0);
    let j = out.json();
    assert_eq!(j["kind"], "cluster");
    assert_eq!(j["writer_instance"], "app-cluster-r-writer");
    let writer =
        f.rt.block_on(
            f.rds
                .describe_db_instances()
                .db_instance_identifier("app-cluster-r-writer")
                .send(),
        )
        .unwrap();
    assert_eq!(
        writer.db_instances()[0].db_cluster_identifier(),
        Some("app-cluster-r")
    );
    let again = f.cmd().args(args).run();
    again.assert_code(0);
    assert_eq!(again.json()["result"], "exists");
}

/// --dry-run on create, prune and restore changes nothing.
#[test]
fn dry_run_changes_nothing() {
    let f = Fixture::new();
    f.instance("app-db");
    let before = f.snapshot_ids("app-db");
    let out = f.run_json(&[
        "create",
        "--db",
        "app-db",
        "--snapshot-id",
        "dry",
        "--dry-run",
    ]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "dry_run");
    assert_eq!(f.snapshot_ids("app-db"), before);
    f.create("app-db", "real", &[]);
    let r = f
        .cmd()
        .args([
            "restore",
            "--snapshot-id",
            "real",
            "--target",
            "would-be",
            "--dry-run",
        ])
        .run();
    r.assert_code(0);
    let instances = f.rt.block_on(f.rds.describe_db_instances().send()).unwrap();
    assert!(
        instances
            .db_instances()
            .iter()
            .all(|i| i.db_instance_identifier() != Some("would-be"))
    );
}

/// Under GitHub Actions every output reaches $GITHUB_OUTPUT and the summary has a table.
#[test]
fn github_outputs_and_summary() {
    let f = Fixture::new();
    f.instance("app-db");
    let out = f
        .cmd()
        .github_actions()
        .envs([("GITHUB_RUN_ID", "777"), ("GITHUB_SHA", "deadbeef")])
        .args(["create", "--db", "app-db"])
        .run();
    out.assert_code(0);
    assert_eq!(out.output("snapshot_id"), "pre-deploy-app-db-gh777");
    assert_eq!(out.output("kind"), "instance");
    assert_eq!(out.output("status"), "available");
    assert_eq!(out.output("result"), "created");
    assert!(
        out.output("snapshot_arn")
            .contains("pre-deploy-app-db-gh777")
    );
    assert!(
        out.summary
            .contains("| `pre-deploy-app-db-gh777` | `app-db` | instance | available |"),
        "{}",
        out.summary
    );
    assert!(
        out.stdout.is_empty(),
        "text mode keeps stdout empty: {}",
        out.stdout
    );
}

/// An unreachable endpoint is a runtime error (exit 3) that names what to check.
#[test]
fn unreachable_endpoint_exits_3() {
    let dead = format!("http://127.0.0.1:{}", unused_port());
    let out = Cmd::bin("rds-snapshot")
        .envs([
            ("AWS_ENDPOINT_URL", dead.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
        ])
        .args([
            "list",
            "--db",
            "app-db",
            "--max-attempts",
            "2",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    let j = out.json();
    assert_eq!(j["error"]["kind"], "runtime");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach AWS"),
        "{j}"
    );
}

/// A wait that outlives --timeout exits 4 at the deadline, not when the slow call returns.
#[test]
fn wait_past_deadline_exits_4() {
    let f = Fixture::new();
    f.instance("app-db");
    f.create("app-db", "pre-t", &[]);
    // The first DescribeDBInstances (does the target exist?) goes through; the wait's do not.
    let proxy = DelayProxy::start(
        &standins().moto,
        vec![DelayRule {
            marker: "Action=DescribeDBInstances".into(),
            skip: 1,
            delay: Duration::from_secs(20),
        }],
    );
    let target = unique("slow");
    let out = f
        .cmd()
        .env("AWS_ENDPOINT_URL", proxy.url())
        .args([
            "restore",
            "--snapshot-id",
            "pre-t",
            "--target",
            &target,
            "--timeout",
            "2s",
            "--interval",
            "200ms",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(4);
    assert!(
        out.elapsed < Duration::from_secs(6),
        "deadline overrun: {:?}",
        out.elapsed
    );
    assert_eq!(out.json()["result"], "timed_out");
    assert!(out.stderr.contains("--timeout 2s"), "{}", out.stderr);
}

/// --help teaches with examples and answers without touching AWS.
#[test]
fn help_has_examples() {
    let out = Cmd::bin("rds-snapshot").arg("--help").run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("Examples:")
            && out
                .stdout
                .contains("rds-snapshot prune --db app-db --keep 5")
    );
    let sub = Cmd::bin("rds-snapshot").args(["create", "--help"]).run();
    assert!(sub.stdout.contains("--snapshot-id"), "{}", sub.stdout);
}
