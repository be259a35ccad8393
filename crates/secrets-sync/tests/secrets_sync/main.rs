//! `secrets-sync` end to end: the real binary against moto's Secrets Manager (each test in its
//! own moto account) and test-support's GitHub REST fake (which decrypts every sealed box), as a
//! workflow runs it. Assertions read the state back through the SDK or the fake, so a tool that
//! lies in its output still fails.

#[path = "../support/aws_proxy.rs"]
mod aws_proxy;

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use test_support::github_fake::GithubFake;
use test_support::{AwsAccount, Cmd, MotoSession, Output, standins, unique};

struct Fx {
    account: AwsAccount,
    sm: Client,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        let MotoSession {
            account,
            rt,
            config,
        } = MotoSession::start();
        Fx {
            sm: Client::new(&config),
            account,
            rt,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Cmd {
        Cmd::bin("secrets-sync").aws(&self.account)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// A secret made by someone else, or by us (`managed`).
    fn secret(&self, name: &str, value: &str, managed: bool) -> String {
        let mut req = self.sm.create_secret().name(name).secret_string(value);
        if managed {
            req = req.tags(
                Tag::builder()
                    .key("managed-by")
                    .value("secrets-sync")
                    .build(),
            );
        }
        self.rt
            .block_on(req.send())
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }

    fn value(&self, name: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.sm
                    .get_secret_value()
                    .secret_id(name)
                    .version_stage("AWSCURRENT")
                    .send(),
            )
            .unwrap();
        out.secret_string().unwrap().to_string()
    }

    fn versions(&self, name: &str) -> usize {
        let out = self
            .rt
            .block_on(
                self.sm
                    .list_secret_version_ids()
                    .secret_id(name)
                    .include_deprecated(true)
                    .send(),
            )
            .unwrap();
        out.versions().len()
    }

    /// Names under a prefix, with whether each is scheduled for deletion.
    fn listed(&self, prefix: &str) -> BTreeMap<String, bool> {
        let out = self
            .rt
            .block_on(
                self.sm
                    .list_secrets()
                    .include_planned_deletion(true)
                    .max_results(100)
                    .send(),
            )
            .unwrap();
        out.secret_list()
            .iter()
            .filter(|s| s.name().unwrap().starts_with(prefix))
            .map(|s| (s.name().unwrap().to_string(), s.deleted_date().is_some()))
            .collect()
    }
}

fn changes(out: &Output) -> BTreeMap<String, String> {
    out.json()["detail"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Everything a run produced that a person or a later step could see: stdout, stderr without the
/// runner's own mask commands, outputs and summary.
fn visible(out: &Output) -> String {
    let stderr: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    format!(
        "{}\n{}\n{:?}\n{}",
        out.stdout,
        stderr.join("\n"),
        out.outputs,
        out.summary
    )
}

#[track_caller]
fn assert_hidden(out: &Output, values: &[&str]) {
    let seen = visible(out);
    for v in values {
        assert!(!seen.contains(v), "value `{v}` leaked:\n{seen}");
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A named run: arguments and extra environment.
type Run<'a> = (&'a str, Vec<String>, Vec<(&'a str, String)>);

/// The GitHub token the REST fake accepts.
const TOKEN: &str = "ghp_faketoken0123456789";

// One test binary, a module per topic (ripgrep style).
mod aws_sync;
mod export_verify;
mod faults_and_leaks;
mod github;
