//! Rendering task definitions: pure functions from JSON to JSON, with no SDK types and no I/O, so
//! they can be unit-tested and fuzzed (`parse_task_definition`, `parse_image_override`, …).
//!
//! ecs-roll works on task definitions as JSON, as ecspresso does: what DescribeTaskDefinition
//! returns (or a file, which may be that very output) is turned into RegisterTaskDefinition input
//! through an **allow-list** of the request's members ([`REGISTER_FIELDS`], [`CONTAINER_FIELDS`]).
//! Read-only fields (`revision`, `status`, `registeredAt`, …) and any field a future API version
//! adds to the description are dropped instead of breaking the registration; tags, which
//! DescribeTaskDefinition returns beside the definition, are carried into the request.
//!
//! Before registering, the rendered definition is compared with the current one in a canonical
//! form ([`canonical`]): key order, list order where ECS ignores it (environment, secrets, tags)
//! and the defaults DescribeTaskDefinition fills in do not count as changes, so an unchanged
//! release never churns a new revision.
//!
//! Three parts, read bottom-up: [`canonical`] (the comparison form), [`task_definition`] (the
//! document, parsing and checks), [`overrides`] (the flags' changes, applied to a document).

pub mod canonical;
pub mod overrides;
pub mod task_definition;

pub use canonical::canonical;
pub use overrides::*;
pub use task_definition::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn described() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            "family": "web",
            "revision": 7,
            "status": "ACTIVE",
            "registeredAt": 1_700_000_000.0,
            "registeredBy": "arn:aws:iam::123456789012:role/ci",
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "compatibilities": ["EC2", "FARGATE"],
            "someFutureField": {"x": 1},
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [
                {"name": "web", "image": "app:v1", "cpu": 0, "essential": true,
                 "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
                 "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                 "mountPoints": [], "volumesFrom": [], "systemControls": []},
                {"name": "sidecar", "image": "envoy:1.30", "essential": false}
            ],
            "volumes": []
        })
    }

    fn tags() -> Vec<Value> {
        vec![
            json!({"key": "team", "value": "web"}),
            json!({"key": "aws:cloudformation:stack-name", "value": "x"}),
        ]
    }

    /// Read-only and unknown fields are dropped by the allow-list; register inputs stay.
    #[test]
    fn allow_list_drops_read_only_fields() {
        let doc = registerable(described().as_object().unwrap(), &[]);
        for k in READ_ONLY_FIELDS {
            assert!(!doc.definition.contains_key(*k), "{k} kept");
        }
        assert!(!doc.definition.contains_key("someFutureField"));
        assert_eq!(doc.ignored_fields, vec!["someFutureField".to_string()]);
        assert_eq!(doc.family(), "web");
        assert_eq!(doc.definition["cpu"], "256");
        assert_eq!(doc.container_names(), vec!["web", "sidecar"]);
    }

    /// Tags are carried into the request, without the reserved `aws:` ones.
    #[test]
    fn tags_are_carried_without_reserved_ones() {
        let doc = registerable(described().as_object().unwrap(), &tags());
        assert_eq!(doc.tags, vec![json!({"key": "team", "value": "web"})]);
        assert_eq!(
            doc.register_request()["tags"],
            json!([{"key": "team", "value": "web"}])
        );
    }

    /// Key order, env order and described defaults do not make a definition different.
    #[test]
    fn equality_ignores_ordering_and_defaults() {
        let a = registerable(described().as_object().unwrap(), &tags());
        let from_file = parse_task_definition(
            r#"{"family": "web", "networkMode": "awsvpc", "cpu": 256, "memory": 512,
                "requiresCompatibilities": ["FARGATE"],
                "tags": [{"value": "web", "key": "team"}],
                "containerDefinitions": [
                  {"image": "app:v1", "name": "web",
                   "environment": [{"name": "A", "value": "1"}, {"value": "2", "name": "B"}],
                   "portMappings": [{"containerPort": 80}]},
                  {"name": "sidecar", "essential": false, "image": "envoy:1.30"}]}"#,
        )
        .unwrap();
        assert!(
            a.same_as(&from_file),
            "{}\n---\n{}",
            a.pretty(),
            from_file.pretty()
        );
        let changed = apply_overrides(
            &a,
            &Overrides {
                images: vec![parse_image_override("web=app:v2").unwrap()],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!a.same_as(&changed));
        // Container order matters to nobody, but ECS keeps it; a swap is a change we show.
        let mut swapped = a.clone();
        if let Some(Value::Array(l)) = swapped.definition.get_mut("containerDefinitions") {
            l.reverse();
        }
        assert!(!a.same_as(&swapped));
    }

    /// Provenance tags are set on registration but never make a definition different.
    #[test]
    fn provenance_tags_do_not_count_as_changes() {
        let a = registerable(described().as_object().unwrap(), &tags());
        let b = a.clone().with_tags(&[
            ("github:run-id".into(), "42".into()),
            ("github:sha".into(), "abc".into()),
        ]);
        assert!(a.same_as(&b));
        assert_eq!(b.tags.len(), 3);
        let c = b
            .clone()
            .with_tags(&[("github:run-id".into(), "43".into())]);
        assert_eq!(c.tags.len(), 3, "replaced, not added");
        assert!(!a.same_as(&a.clone().with_tags(&[("team".into(), "api".into())])));
    }

    /// Images, env and secrets are set per container; existing variables are replaced in place.
    #[test]
    fn overrides_apply_per_container() {
        let doc = registerable(described().as_object().unwrap(), &[]);
        let o = Overrides {
            images: vec![
                parse_image_override("web=app:v2").unwrap(),
                parse_image_override("sidecar=envoy:1.31").unwrap(),
            ],
            env: vec![
                parse_env_override("web:A=one=1").unwrap(),
                parse_env_override("sidecar:LOG=debug").unwrap(),
            ],
            secrets: vec![
                parse_secret_override("web:DB=arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf")
                    .unwrap(),
            ],
        };
        let out = apply_overrides(&doc, &o).unwrap();
        assert_eq!(
            out.images(),
            vec![
                ("web".into(), "app:v2".into()),
                ("sidecar".into(), "envoy:1.31".into())
            ]
        );
        let web = &out.definition["containerDefinitions"][0];
        assert_eq!(
            web["environment"][1],
            json!({"name": "A", "value": "one=1"})
        );
        assert_eq!(web["environment"].as_array().unwrap().len(), 2);
        assert_eq!(
            web["secrets"][0]["valueFrom"],
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf"
        );
        assert_eq!(
            out.definition["containerDefinitions"][1]["environment"][0]["value"],
            "debug"
        );
    }

    /// An override naming a missing container is refused with the containers that exist.
    #[test]
    fn unknown_container_is_refused() {
        let doc = registerable(described().as_object().unwrap(), &[]);
        let o = Overrides {
            images: vec![parse_image_override("wbe=app:v2").unwrap()],
            ..Default::default()
        };
        let e = apply_overrides(&doc, &o).unwrap_err();
        assert_eq!(e.container, "wbe");
        assert_eq!(e.known, vec!["web", "sidecar"]);
    }

    /// DescribeTaskDefinition output is accepted as a file, its tags carried.
    #[test]
    fn describe_output_is_a_valid_file() {
        let text = json!({"taskDefinition": described(), "tags": tags()}).to_string();
        let doc = parse_task_definition(&text).unwrap();
        assert_eq!(doc.family(), "web");
        assert_eq!(doc.tags.len(), 1);
    }

    /// JSON syntax errors carry line and column; semantic errors name the field.
    #[test]
    fn file_errors_name_the_place() {
        let e =
            parse_task_definition("{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n}")
                .unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(4));
        assert!(e.to_string().starts_with("line 4, column 1:"), "{e}");
        for (text, needle) in [
            (r#"[]"#, "JSON object"),
            (
                r#"{"containerDefinitions": [{"name": "a", "image": "b"}]}"#,
                "family",
            ),
            (
                r#"{"family": "f b", "containerDefinitions": []}"#,
                "family `f b`",
            ),
            (
                r#"{"family": "f", "containerDefinitions": []}"#,
                "at least one",
            ),
            (
                r#"{"family": "f", "containerDefinitions": [{"name": "a"}]}"#,
                "no `image`",
            ),
            (
                r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}"#,
                "twice",
            ),
            (
                r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "environment": {}}]}"#,
                "must be a list",
            ),
        ] {
            let e = parse_task_definition(text).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    /// Unknown fields in a file are reported, not fatal.
    #[test]
    fn unknown_file_fields_are_reported() {
        let doc = parse_task_definition(
            r#"{"family": "f", "colour": "blue", "containerDefinitions": [{"name": "a", "image": "x", "imagee": "y"}]}"#,
        )
        .unwrap();
        assert_eq!(
            doc.ignored_fields,
            vec!["colour".to_string(), "a.imagee".to_string()]
        );
    }

    /// `--image`, `--env` and `--secret` syntax errors say what is expected.
    #[test]
    fn flag_syntax_errors() {
        assert!(
            parse_image_override("app:v1")
                .unwrap_err()
                .contains("CONTAINER=IMAGE")
        );
        assert!(
            parse_image_override("web=App:v1")
                .unwrap_err()
                .contains("lowercase")
        );
        assert!(
            parse_image_override("web=app")
                .unwrap_err()
                .contains("neither a tag")
        );
        assert!(
            parse_image_override("w b=app:v1")
                .unwrap_err()
                .contains("container name")
        );
        assert!(
            parse_env_override("web=A")
                .unwrap_err()
                .contains("CONTAINER:NAME=VALUE")
        );
        assert!(parse_env_override("web:A").unwrap_err().contains("no `=`"));
        assert!(
            parse_env_override("web:=x")
                .unwrap_err()
                .contains("variable name")
        );
        assert!(parse_secret_override("web:DB=arn:aws:s3:::bucket").is_err());
        assert!(parse_secret_override("web:DB=/prod/db/password").is_ok());
        assert!(parse_secret_override("web:DB=arn:aws:ssm:us-east-1:1:parameter/prod/db").is_ok());
        assert!(parse_secret_override("web:DB=").is_err());
    }

    /// Commands split like a shell (quotes, escapes) or come as a JSON array.
    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("bin/rails db:migrate").unwrap(),
            vec!["bin/rails", "db:migrate"]
        );
        assert_eq!(
            split_command(r#"sh -c 'echo "a b" && run' x\ y "q\"d""#).unwrap(),
            vec!["sh", "-c", "echo \"a b\" && run", "x y", "q\"d"]
        );
        assert_eq!(
            split_command(r#"["npm", "run", "migrate"]"#).unwrap(),
            vec!["npm", "run", "migrate"]
        );
        assert_eq!(split_command("''").unwrap(), vec![""]);
        assert!(split_command("   ").is_err());
        assert!(split_command("echo 'x").is_err());
        assert!(split_command("[1, 2]").is_err());
    }

    /// A stable-toolchain stand-in for the cargo-fuzz target (fuzz/): thousands of seeded random
    /// mutations of valid inputs through every parser; none may panic and the rendering
    /// invariants must hold whenever a definition parses.
    #[test]
    fn mutated_inputs_never_panic() {
        let seeds = [
            described().to_string(),
            json!({"taskDefinition": described(), "tags": tags()}).to_string(),
            r#"{"family":"f","containerDefinitions":[{"name":"a","image":"x:1","environment":[{"name":"K","value":"v"}]}]}"#.to_string(),
            "web=123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string(),
            "web:DB=arn:aws:secretsmanager:us-east-1:1:secret:db".to_string(),
            r#"sh -c 'echo "a b"' x\ y ["a"]"#.to_string(),
        ];
        let alphabet: Vec<char> = "{}[]\":,\\'=@/ .-_0123456789abcAZ\n\té€".chars().collect();
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for i in 0..6000 {
            let mut chars: Vec<char> = seeds[i % seeds.len()].chars().collect();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(0..=chars.len());
                match rng.u8(0..3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => chars[at] = alphabet[rng.usize(0..alphabet.len())],
                    _ => chars.insert(at, alphabet[rng.usize(0..alphabet.len())]),
                }
            }
            let text: String = chars.into_iter().collect();
            let _ = parse_image_override(&text);
            let _ = parse_env_override(&text);
            let _ = parse_secret_override(&text);
            let _ = split_command(&text);
            if let Ok(doc) = parse_task_definition(&text) {
                assert!(doc.same_as(&doc));
                let c = doc.canonical();
                assert_eq!(canonical(&c), c, "not idempotent for {text}");
                let o = Overrides {
                    images: vec![parse_image_override("a=x:2").unwrap()],
                    env: vec![parse_env_override("a:K=w").unwrap()],
                    secrets: Vec::new(),
                };
                let r = apply_present_overrides(&doc, &o);
                assert_eq!(r.container_names(), doc.container_names());
                assert!(validate(&r).is_ok(), "{text}");
            }
        }
    }
}
