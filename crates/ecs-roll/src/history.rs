//! Where `ecs-roll rollback` returns a service to, decided from its deployment history. Pure: the
//! history comes in as data ([`Entry`], read by `rollback`), the decision goes out as data.
//!
//! The history is replayed oldest first (ordered by `createdAt` here, whatever order the API
//! returned) as a stack of releases that completed:
//!
//! - a SUCCESSFUL deployment of a revision not on the stack is a forward release: pushed;
//! - a SUCCESSFUL deployment of a revision already on the stack is a *return* (a rollback by
//!   ecs-roll, or anyone's UpdateService back to it): the releases above it are popped, so a
//!   rollback is never mistaken for a release, and the revision it left is never "previous";
//! - STOPPED, ROLLBACK_SUCCESSFUL and ROLLBACK_FAILED deployments never completed: their
//!   revision is not pushed (a registered-but-never-run revision is not in the history at all).
//!
//! The previous revision is the one below the revision the service runs. When the newest
//! deployment is still in flight and is itself a return (ECS's circuit breaker rolling back, or
//! an UpdateService back to a revision on the stack), that return is followed rather than
//! overtaken: re-running `ecs-roll rollback` during a rollback never sends the service back to the
//! revision the rollback is leaving.

/// One ServiceDeployment, as ListServiceDeployments and DescribeServiceRevisions tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `createdAt`, epoch seconds.
    pub created_at: f64,
    /// ServiceDeployment status (`SUCCESSFUL`, `IN_PROGRESS`, `ROLLBACK_SUCCESSFUL`, …).
    pub status: String,
    /// The target revision's task definition; `None` when it could not be described.
    pub task_definition: Option<String>,
}

/// What `ecs-roll rollback` should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Return to this revision.
    ReturnTo {
        task_definition: String,
        why: String,
    },
    /// A return to this revision is already in flight: follow it, start nothing new.
    Follow {
        task_definition: String,
        why: String,
    },
    /// No completed release before the current one is known.
    Nothing { why: String },
}

fn in_flight(status: &str) -> bool {
    matches!(
        status,
        "PENDING" | "IN_PROGRESS" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS"
    )
}

/// Decide from the history and the task definition the service is set to.
pub fn decide(history: &[Entry], current: &str) -> Decision {
    let mut entries: Vec<&Entry> = history.iter().collect();
    entries.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
    let newest_in_flight = entries.last().is_some_and(|e| in_flight(&e.status));
    let settled = if newest_in_flight {
        &entries[..entries.len() - 1]
    } else {
        &entries[..]
    };
    // Each completed release; `None` for one whose revision could not be described.
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut last_settled_successful: Option<Option<String>> = None;
    for e in settled {
        if e.status != "SUCCESSFUL" {
            last_settled_successful = None;
            continue;
        }
        last_settled_successful = Some(e.task_definition.clone());
        match stack.iter().position(|s| *s == e.task_definition) {
            Some(i) if e.task_definition.is_some() => stack.truncate(i + 1),
            _ => stack.push(e.task_definition.clone()),
        }
    }
    let top = stack.last().cloned();
    if newest_in_flight {
        let e = entries[entries.len() - 1];
        if e.status.starts_with("ROLLBACK_") {
            return follow_or_unknown(top, "ECS is rolling the service back to it");
        }
        if let Some(td) = &e.task_definition
            && let Some(i) = stack.iter().position(|s| s.as_deref() == Some(td))
        {
            // A deployment in flight to a revision on the stack: a return, unless it is a
            // forced redeploy of the revision that has just completed.
            let redeploy =
                i + 1 == stack.len() && last_settled_successful.as_ref() == Some(&Some(td.clone()));
            if !redeploy {
                return Decision::Follow {
                    task_definition: td.clone(),
                    why: "a deployment returning the service to it is in progress".into(),
                };
            }
        }
    }
    match top {
        Some(Some(top)) if top != current => Decision::ReturnTo {
            task_definition: top,
            why: "the last release that completed before the current one".into(),
        },
        Some(Some(_)) => match stack.len().checked_sub(2).map(|i| stack[i].clone()) {
            Some(Some(prev)) => Decision::ReturnTo {
                task_definition: prev,
                why: "the release that completed before the current one".into(),
            },
            Some(None) => Decision::Nothing {
                why: "the release before the current one could not be described (DescribeServiceRevisions)".into(),
            },
            None => Decision::Nothing {
                why: "the deployment history holds no completed release before the current one"
                    .into(),
            },
        },
        Some(None) => Decision::Nothing {
            why: "the last completed release could not be described (DescribeServiceRevisions)"
                .into(),
        },
        None => Decision::Nothing {
            why: "the deployment history holds no completed release".into(),
        },
    }
}

fn follow_or_unknown(top: Option<Option<String>>, why: &str) -> Decision {
    match top {
        Some(Some(td)) => Decision::Follow {
            task_definition: td,
            why: why.into(),
        },
        _ => Decision::Nothing {
            why: "ECS is rolling the service back to a revision the history does not name".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(steps: &[(&str, &str)]) -> Vec<Entry> {
        steps
            .iter()
            .enumerate()
            .map(|(i, (status, td))| Entry {
                created_at: i as f64 * 10.0,
                status: status.to_string(),
                task_definition: (!td.is_empty()).then(|| td.to_string()),
            })
            .collect()
    }

    fn to(td: &str) -> String {
        td.to_string()
    }

    fn target(d: &Decision) -> Option<(&str, &str)> {
        match d {
            Decision::ReturnTo {
                task_definition, ..
            } => Some(("return", task_definition.as_str())),
            Decision::Follow {
                task_definition, ..
            } => Some(("follow", task_definition.as_str())),
            Decision::Nothing { .. } => None,
        }
    }

    /// The table: history (oldest first), the service's task definition, the decision.
    #[test]
    fn previous_release_table() {
        /// (what, history oldest first as (status, task definition), service's, decision)
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a str,
            Option<(&'a str, &'a str)>,
        );
        let cases: &[Case] = &[
            (
                "two releases: back to the first",
                &[("SUCCESSFUL", "web:1"), ("SUCCESSFUL", "web:2")],
                "web:2",
                Some(("return", "web:1")),
            ),
            (
                "good v2, crashing v3 rolled back by ECS, good v4: back to v2, never v3",
                &[
                    ("SUCCESSFUL", "web:2"),
                    ("ROLLBACK_SUCCESSFUL", "web:3"),
                    ("SUCCESSFUL", "web:4"),
                ],
                "web:4",
                Some(("return", "web:2")),
            ),
            (
                "a revision registered but never deployed is not in the history",
                &[("SUCCESSFUL", "web:2"), ("SUCCESSFUL", "web:4")],
                "web:4",
                Some(("return", "web:2")),
            ),
            (
                "after a completed rollback v2→v1, the next rollback goes further back, never to v2",
                &[
                    ("SUCCESSFUL", "web:0"),
                    ("SUCCESSFUL", "web:1"),
                    ("SUCCESSFUL", "web:2"),
                    ("SUCCESSFUL", "web:1"),
                ],
                "web:1",
                Some(("return", "web:0")),
            ),
            (
                "during a rollback v2→v1 (UpdateService in flight) it is followed, never reversed",
                &[
                    ("SUCCESSFUL", "web:0"),
                    ("SUCCESSFUL", "web:1"),
                    ("SUCCESSFUL", "web:2"),
                    ("IN_PROGRESS", "web:1"),
                ],
                "web:1",
                Some(("follow", "web:1")),
            ),
            (
                "during ECS's own rollback of a failed v3: follow it back to v2",
                &[
                    ("SUCCESSFUL", "web:1"),
                    ("SUCCESSFUL", "web:2"),
                    ("ROLLBACK_IN_PROGRESS", "web:3"),
                ],
                "web:2",
                Some(("follow", "web:2")),
            ),
            (
                "during ecs-roll deploy's own return after a failed v3 (v3 stopped): follow to v2",
                &[
                    ("SUCCESSFUL", "web:1"),
                    ("SUCCESSFUL", "web:2"),
                    ("STOPPED", "web:3"),
                    ("IN_PROGRESS", "web:2"),
                ],
                "web:2",
                Some(("follow", "web:2")),
            ),
            (
                "a forward release in flight: back to the last completed one",
                &[("SUCCESSFUL", "web:1"), ("IN_PROGRESS", "web:2")],
                "web:2",
                Some(("return", "web:1")),
            ),
            (
                "a forced redeploy of the current revision in flight: the one before it",
                &[
                    ("SUCCESSFUL", "web:1"),
                    ("SUCCESSFUL", "web:2"),
                    ("IN_PROGRESS", "web:2"),
                ],
                "web:2",
                Some(("return", "web:1")),
            ),
            (
                "forced redeploys of the current revision are not releases",
                &[
                    ("SUCCESSFUL", "web:1"),
                    ("SUCCESSFUL", "web:2"),
                    ("SUCCESSFUL", "web:2"),
                    ("SUCCESSFUL", "web:2"),
                ],
                "web:2",
                Some(("return", "web:1")),
            ),
            (
                "left on a failed revision without rollback (STOPPED): back to the last completed",
                &[("SUCCESSFUL", "web:1"), ("STOPPED", "web:2")],
                "web:2",
                Some(("return", "web:1")),
            ),
            (
                "one release only: nothing",
                &[("SUCCESSFUL", "web:1")],
                "web:1",
                None,
            ),
            ("no history: nothing", &[], "web:1", None),
            (
                "the previous release could not be described: nothing, never a guess",
                &[("SUCCESSFUL", ""), ("SUCCESSFUL", "web:2")],
                "web:2",
                None,
            ),
        ];
        for (name, steps, current, want) in cases {
            let got = decide(&h(steps), current);
            assert_eq!(target(&got), *want, "{name}: {got:?}");
        }
    }

    /// The history is ordered by time here, not by the order the API returned it in.
    #[test]
    fn order_comes_from_created_at() {
        let mut hist = h(&[
            ("SUCCESSFUL", "web:1"),
            ("SUCCESSFUL", "web:2"),
            ("SUCCESSFUL", "web:3"),
        ]);
        hist.reverse();
        assert_eq!(
            decide(&hist, "web:3"),
            Decision::ReturnTo {
                task_definition: to("web:2"),
                why: "the release that completed before the current one".into()
            }
        );
    }
}
