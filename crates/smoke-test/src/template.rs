//! `{{name}}` and `{{env.NAME}}` in spec strings: parsing (so a spec using an unknown variable
//! is rejected before any request) and rendering. Pure; knows nothing of HTTP.

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    Text(&'a str),
    /// `{{name}}`: a `--var` or a capture of an earlier check.
    Var(&'a str),
    /// `{{env.NAME}}`: an environment variable.
    Env(&'a str),
}

/// Split a string into text and references. `{{` without `}}`, or a bad name, is an error.
pub fn parse(s: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(format!(
                "`{{{{` without a closing `}}}}` in `{}`",
                bounded(s)
            ));
        };
        let name = after[..close].trim();
        parts.push(reference(name)?);
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

fn reference(name: &str) -> Result<Part<'_>, String> {
    if let Some(env) = name.strip_prefix("env.") {
        return if valid_env_name(env) {
            Ok(Part::Env(env))
        } else {
            Err(format!(
                "`{{{{{name}}}}}`: `{env}` is not an environment variable name"
            ))
        };
    }
    if valid_var_name(name) {
        Ok(Part::Var(name))
    } else {
        Err(format!(
            "`{{{{{name}}}}}` is not a variable reference; use {{{{name}}}} or {{{{env.NAME}}}} (letters, digits, `_`, `-`)"
        ))
    }
}

/// Variable names: a letter or `_`, then letters, digits, `_` or `-`; `env` is reserved.
pub fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name != "env"
        && name.len() <= 128
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Render a template, looking every reference up; the first missing one is the error.
/// Words in an environment variable's name that make its value a secret: `{{env.API_TOKEN}}`,
/// `{{env.DB_PASSWORD}}` and the like are masked in every output, as `--secret-var` values are.
/// (Other variables are shown; pass a secret that has no such name with `--secret-var`.)
const SECRET_NAME_PARTS: [&str; 10] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "COOKIE",
    "SESSION",
];

/// Whether `{{env.NAME}}`'s value is treated as a secret (see [`SECRET_NAME_PARTS`]).
pub fn env_name_is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_PARTS.iter().any(|p| upper.contains(p))
}

pub fn render(
    s: &str,
    var: impl Fn(&str) -> Option<String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    for part in parse(s)? {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Var(n) => {
                out.push_str(&var(n).ok_or_else(|| format!("`{{{{{n}}}}}` is not set"))?)
            }
            Part::Env(n) => out.push_str(&env(n).ok_or_else(|| {
                format!("`{{{{env.{n}}}}}`: environment variable {n} is not set")
            })?),
        }
    }
    Ok(out)
}

fn bounded(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text and both kinds of reference are split apart, whitespace inside braces allowed.
    #[test]
    fn parses_references() {
        assert_eq!(
            parse("Bearer {{ token }} for {{env.USER}}!").unwrap(),
            vec![
                Part::Text("Bearer "),
                Part::Var("token"),
                Part::Text(" for "),
                Part::Env("USER"),
                Part::Text("!"),
            ]
        );
        assert_eq!(parse("plain").unwrap(), vec![Part::Text("plain")]);
    }

    /// Unclosed braces and bad names are errors that say how to write a reference.
    #[test]
    fn rejects_bad_references() {
        assert!(parse("{{token").unwrap_err().contains("closing"));
        assert!(parse("{{a b}}").unwrap_err().contains("{{name}}"));
        assert!(parse("{{env.A-B}}").unwrap_err().contains("environment"));
        assert!(parse("{{env}}").is_err());
    }

    /// Rendering substitutes values and names the first missing one.
    #[test]
    fn secret_env_names() {
        for (name, secret) in [
            ("API_TOKEN", true),
            ("db_password", true),
            ("JWT_SECRET", true),
            ("SMOKE_PASS", true),
            ("STRIPE_API_KEY", true),
            ("AUTHORIZATION", true),
            ("AWS_SESSION_TOKEN", true),
            ("HOME", false),
            ("BASE_URL", false),
            ("USER", false),
        ] {
            assert_eq!(env_name_is_secret(name), secret, "{name}");
        }
    }

    #[test]
    fn renders() {
        let var = |n: &str| (n == "id").then(|| "42".to_string());
        let env = |n: &str| (n == "HOST").then(|| "h".to_string());
        assert_eq!(
            render("/{{env.HOST}}/items/{{id}}", var, env).unwrap(),
            "/h/items/42"
        );
        assert!(render("{{nope}}", var, env).unwrap_err().contains("nope"));
        assert!(
            render("{{env.NOPE}}", var, env)
                .unwrap_err()
                .contains("NOPE")
        );
    }
}
