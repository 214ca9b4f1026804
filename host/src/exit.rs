//! Exit codes of the `artifact` CLI, by error kind: scripts can tell "not there" from "refused"
//! from "the disk is lying" without parsing messages. The README's table is checked against
//! [`TABLE`] by the tests.

/// (exit code, error kinds, meaning), in the README's order. Kinds not listed exit 1.
pub const TABLE: &[(i32, &[&str], &str)] = &[
    (0, &[], "success"),
    (1, &["deadline", "memory-limit", "trap", "load", "plugin"], "other failure (the component was interrupted or could not load, or a plugin's run failed)"),
    (2, &["usage", "invalid-argument", "invalid-ref", "decode", "range-not-satisfiable"], "invalid input: bad arguments, a malformed ref, data that is not what the mode says"),
    (3, &["not-found"], "no such artifact, bucket/name or part"),
    (4, &["expired"], "the artifact (or signed URL) has expired"),
    (5, &["conflict"], "a concurrent change got in the way (e.g. a complete manifest); retry"),
    (6, &["too-large"], "past a size cap (`--max-bytes`, the per-call limit, the expansion cap)"),
    (7, &["integrity"], "stored bytes do not match their SHA-256: nothing wrong was written out"),
    (8, &["forbidden"], "refused by policy (a signature, a protected path)"),
    (9, &["storage", "metadata", "io"], "a backend or local file is unavailable (disk, database, S3, permissions)"),
];

/// The exit code for an error kind (`not-found` → 3, ...); 1 for kinds not in [`TABLE`].
pub fn code(kind: &str) -> i32 {
    TABLE.iter().find(|(_, kinds, _)| kinds.contains(&kind)).map_or(1, |(c, _, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_code() {
        let mut seen = std::collections::HashSet::new();
        for (_, kinds, _) in TABLE {
            for k in *kinds {
                assert!(seen.insert(*k), "{k} listed twice");
            }
        }
        for k in ["not-found", "invalid-ref", "invalid-argument", "too-large", "range-not-satisfiable", "integrity", "decode", "conflict", "forbidden", "expired", "storage", "metadata"] {
            assert!(seen.contains(k), "WIT error kind {k} has no exit code");
        }
        assert_eq!(code("not-found"), 3);
        assert_eq!(code("integrity"), 7);
        assert_eq!(code("something-new"), 1);
        // clap's own usage errors exit 2: the table agrees.
        assert_eq!(code("usage"), 2);
    }

    #[test]
    fn the_readme_table_is_this_table() {
        let readme = include_str!("../../README.md");
        let rows: Vec<(i32, Vec<String>)> = readme
            .lines()
            .skip_while(|l| !l.starts_with("| exit | error kinds | meaning |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let kinds = cells[2].split(',').map(|k| k.trim().trim_matches('`').to_string()).filter(|k| !k.is_empty()).collect();
                (cells[1].parse().unwrap(), kinds)
            })
            .collect();
        let table: Vec<(i32, Vec<String>)> = TABLE.iter().map(|(c, ks, _)| (*c, ks.iter().map(|k| k.to_string()).collect())).collect();
        assert_eq!(rows, table, "README § CLI exit codes");
    }
}
