//! What crates.io and docs.rs read from the package: checked here because
//! nothing else builds with it (docs.rs' `--cfg docsrs` needs nightly).

const MANIFEST: &str = include_str!("../Cargo.toml");

/// The lines of the manifest's `[name]` table, without the header.
fn table(name: &str) -> Vec<&'static str> {
    let header = format!("[{name}]");
    MANIFEST
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .collect()
}

#[test]
fn docs_rs_builds_every_feature_with_doc_cfg() {
    let docs_rs = table("package.metadata.docs.rs");
    assert!(docs_rs.contains(&"all-features = true"), "{docs_rs:?}");
    assert!(
        docs_rs.contains(&r#"rustdoc-args = ["--cfg", "docsrs"]"#),
        "{docs_rs:?}"
    );
    let lib = include_str!("lib.rs");
    assert!(lib.contains("#![cfg_attr(docsrs, feature(doc_cfg))]"));
    assert!(lib.contains("#![doc = document_features::document_features!()]"));
}

#[test]
fn the_package_says_where_its_docs_and_licences_are() {
    let package = table("package");
    for field in [
        r#"documentation = "https://docs.rs/tower-mpp""#,
        r#"readme = "README.md""#,
        r#"license = "MIT OR Apache-2.0""#,
    ] {
        assert!(package.contains(&field), "{field} missing from [package]");
    }
    assert!(package.iter().any(|l| l.starts_with("keywords = [")));
    assert!(package.iter().any(|l| l.starts_with("categories = [")));
    assert!(
        !package.iter().any(|l| l.starts_with("repository")),
        "no repository URL is known yet"
    );
    let mit = include_str!("../LICENSE-MIT");
    let apache = include_str!("../LICENSE-APACHE");
    assert!(mit.contains("Copyright (c) The tower-mpp developers"));
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0"));
}

/// crates.io refuses a keyword that does not start with a letter, and more
/// than five.
#[test]
fn keywords_are_ones_crates_io_accepts() {
    let line = table("package")
        .into_iter()
        .find(|l| l.starts_with("keywords = ["))
        .expect("keywords");
    let keywords: Vec<&str> = line["keywords = [".len()..line.len() - 1]
        .split(',')
        .map(|k| k.trim().trim_matches('"'))
        .collect();
    assert!(keywords.len() <= 5, "{keywords:?}");
    for keyword in keywords {
        assert!(keyword.len() <= 20, "{keyword}");
        assert!(
            keyword.starts_with(|c: char| c.is_ascii_alphabetic()),
            "{keyword}"
        );
        assert!(
            keyword
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{keyword}"
        );
    }
}

/// The crate docs' feature table is made of the `##` comments above each
/// feature: a feature without one would be missing from it.
#[test]
fn every_feature_has_a_doc_comment() {
    let features = table("features");
    for (i, line) in features.iter().enumerate() {
        let Some((name, _)) = line.split_once(" = ") else {
            continue;
        };
        if name.starts_with(['#', ' ']) || name == "default" {
            continue;
        }
        assert!(
            i > 0 && features[i - 1].starts_with("##"),
            "feature `{name}` has no `## ` comment in Cargo.toml (the crate docs' feature table)"
        );
    }
}
