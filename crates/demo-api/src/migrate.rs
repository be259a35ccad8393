//! `demo-api migrate`: the teams' schema migration, as the release's one-off task runs it. It
//! applies the migrations not yet in the database file (`DEMO_DB_FILE`, one applied id per
//! line; without it nothing is kept), printing a progress line for each on stdout. `--broken`
//! is a release that brings one more migration, [`BROKEN`], which fails: the database's error
//! goes to stderr and the run exits 1, as a failed `rails db:migrate` or `alembic upgrade` does.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The schema, in order.
pub const MIGRATIONS: [&str; 3] = [
    "0001_create_users",
    "0002_create_recipes",
    "0003_create_meal_plans",
];

/// The broken release's extra migration, and the database's answer to it.
pub const BROKEN: (&str, &str) = (
    "0004_add_recipe_tags",
    "ERROR: column \"tags\" of relation \"recipes\" already exists",
);

/// How a run ended: the process's exit code and what it applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub exit_code: u8,
    pub applied: Vec<&'static str>,
}

/// Applies what `db` lacks (each step takes `step`); `broken` adds [`BROKEN`], which fails.
pub fn run(
    version: &str,
    db: Option<&Path>,
    broken: bool,
    step: Duration,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Migrated {
    let done: Vec<String> = db
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let mut pending: Vec<&'static str> = MIGRATIONS
        .iter()
        .copied()
        .filter(|m| !done.iter().any(|d| d == m))
        .collect();
    if broken {
        pending.push(BROKEN.0);
    }
    let _ = writeln!(
        out,
        "demo-api {version}: migrate: {} applied, {} pending",
        done.len(),
        pending.len()
    );
    let mut applied = Vec::new();
    for (i, m) in pending.iter().enumerate() {
        let _ = writeln!(out, "== {m}: migrating");
        std::thread::sleep(step);
        if broken && i + 1 == pending.len() {
            let _ = writeln!(err, "{} (migration {m})", BROKEN.1);
            let _ = writeln!(err, "migrate: {m} failed, nothing after it was applied");
            return Migrated {
                exit_code: 1,
                applied,
            };
        }
        if let Some(path) = db {
            let kept = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{m}"));
            if let Err(e) = kept {
                let _ = writeln!(err, "migrate: cannot record {m} in {}: {e}", path.display());
                return Migrated {
                    exit_code: 1,
                    applied,
                };
            }
        }
        let _ = writeln!(out, "== {m}: migrated");
        applied.push(*m);
    }
    let _ = writeln!(
        out,
        "demo-api {version}: migrate: done, {} applied",
        applied.len()
    );
    Migrated {
        exit_code: 0,
        applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory for this test (`name`) and the database file in it, not yet there.
    fn fresh_db(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("db");
        let _ = std::fs::remove_file(&db);
        (dir, db)
    }

    fn migrate(db: &Path, broken: bool) -> (Migrated, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let m = run(
            "2.0.0",
            Some(db),
            broken,
            Duration::ZERO,
            &mut out,
            &mut err,
        );
        (
            m,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    /// Pending migrations are applied once and recorded; a second run has nothing to do.
    #[test]
    fn applies_what_is_pending_once() {
        let (dir, db) = fresh_db("demo-api-migrate");
        let (m, out, _) = migrate(&db, false);
        assert_eq!((m.exit_code, m.applied.len()), (0, 3));
        assert!(out.contains("== 0003_create_meal_plans: migrated"), "{out}");
        assert_eq!(std::fs::read_to_string(&db).unwrap().lines().count(), 3);
        let (again, out, _) = migrate(&db, false);
        assert_eq!((again.exit_code, again.applied.len()), (0, 0));
        assert!(out.contains("3 applied, 0 pending"), "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A broken release fails on its extra migration: exit 1, the error on stderr, what came
    /// before it recorded, nothing of it.
    #[test]
    fn broken_fails_the_last_migration() {
        let (dir, db) = fresh_db("demo-api-broken");
        let (m, _, err) = migrate(&db, true);
        assert_eq!((m.exit_code, m.applied.len()), (1, 3));
        assert!(err.contains(BROKEN.1), "{err}");
        assert_eq!(std::fs::read_to_string(&db).unwrap().lines().count(), 3);
        // Also when everything else is applied already.
        let (again, _, err) = migrate(&db, true);
        assert_eq!((again.exit_code, again.applied.len()), (1, 0));
        assert!(err.contains("0004_add_recipe_tags"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
