//! Store templates: `fs://results/{{ execution_id }}/{{ step }}/{{ name }}.json.gz`.
//!
//! Variables: `execution_id`, `step`, `name`, `bucket`, `id`, `sha256`, `ext`. Rendering refuses
//! unknown variables, empty values, absolute paths and `.`/`..` segments, so a template can never
//! address anything outside its driver's root.

use crate::model::Error;

/// Known template variables.
pub const VARIABLES: &[&str] = &["execution_id", "step", "name", "bucket", "id", "sha256", "ext"];

/// A parsed `driver://path-template`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub driver: String,
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(String),
}

impl Template {
    pub fn parse(t: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::InvalidArgument(format!("invalid store template {t:?}: {why}"));
        let (driver, path) = t.split_once("://").ok_or_else(|| bad("expected driver://path".into()))?;
        if driver.is_empty() || !driver.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(bad("bad driver name".into()));
        }
        let mut pieces = Vec::new();
        let mut rest = path;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Lit(rest[..open].to_string()));
            }
            let close = rest[open..].find("}}").ok_or_else(|| bad("unclosed {{".into()))? + open;
            let var = rest[open + 2..close].trim();
            if !VARIABLES.contains(&var) {
                return Err(bad(format!("unknown variable {var:?} (known: {})", VARIABLES.join(", "))));
            }
            pieces.push(Piece::Var(var.to_string()));
            rest = &rest[close + 2..];
        }
        if rest.contains("}}") {
            return Err(bad("stray }}".into()));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(rest.to_string()));
        }
        if pieces.is_empty() {
            return Err(bad("empty path".into()));
        }
        Ok(Template { driver: driver.to_string(), pieces })
    }

    /// Renders with `vars(name) -> value`; checks the resulting path.
    pub fn render(&self, vars: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
        let mut path = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => path.push_str(s),
                Piece::Var(v) => {
                    let val = vars(v).filter(|s| !s.is_empty()).ok_or_else(|| {
                        Error::InvalidArgument(format!("store template variable {v:?} has no value"))
                    })?;
                    path.push_str(&val);
                }
            }
        }
        let bad = |why: &str| Error::InvalidArgument(format!("store path {path:?} {why}"));
        if path.starts_with('/') {
            return Err(bad("is absolute"));
        }
        if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
            return Err(bad("has an empty, '.' or '..' segment"));
        }
        if path.chars().any(|c| c.is_control() || c == '\\' || c == '?' || c == '#') {
            return Err(bad("has a forbidden character"));
        }
        Ok(format!("{}://{}", self.driver, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(k: &str) -> Option<String> {
        match k {
            "execution_id" => Some("e1".into()),
            "step" => Some("fetch".into()),
            "name" => Some("out".into()),
            "bucket" => Some("".into()),
            "id" => Some("../x".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_and_refuses() {
        let t = Template::parse("fs://results/{{ execution_id }}/{{step}}/{{ name }}.json.gz").unwrap();
        assert_eq!(t.render(&vars).unwrap(), "fs://results/e1/fetch/out.json.gz");
        assert!(Template::parse("fs://x/{{ nope }}").is_err());
        assert!(Template::parse("fs://x/{{ name").is_err());
        assert!(Template::parse("results/x").is_err());
        assert!(Template::parse("fs:///abs").unwrap().render(&vars).is_err());
        assert!(Template::parse("fs://a/../b").unwrap().render(&vars).is_err());
        assert!(Template::parse("fs://a/{{ id }}").unwrap().render(&vars).is_err());
        assert!(Template::parse("fs://a/{{ bucket }}").unwrap().render(&vars).is_err());
        assert!(Template::parse("fs://a/{{ sha256 }}").unwrap().render(&vars).is_err());
    }
}
