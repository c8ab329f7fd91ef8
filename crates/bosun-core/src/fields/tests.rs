#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::*;

fn parse(s: &str) -> FieldSelector {
    s.parse::<FieldSelector>()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn set(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn req(field: &str, op: FieldOperator, value: &str) -> FieldRequirement {
    FieldRequirement {
        field: field.to_string(),
        op,
        value: value.to_string(),
    }
}

#[test]
fn split_terms_table() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (r"a", vec![r"a"]),
        (r"a=avalue", vec![r"a=avalue"]),
        (r"a=avalue,b=bvalue", vec![r"a=avalue", r"b=bvalue"]),
        (
            r"a=avalue,b==bvalue,c!=cvalue",
            vec![r"a=avalue", r"b==bvalue", r"c!=cvalue"],
        ),
        (r"", vec![]),
        (r"a=a,", vec![r"a=a", r""]),
        (r",a=a", vec![r"", r"a=a"]),
        (r"k=\,,k2=v2", vec![r"k=\,", r"k2=v2"]),
        (r"k=\\,k2=v2", vec![r"k=\\", r"k2=v2"]),
        (r"k=\\\,,k2=v2", vec![r"k=\\\,", r"k2=v2"]),
        (r"k=\a\b\", vec![r"k=\a\b\"]),
        (r"k=\", vec![r"k=\"]),
        ("함=수,목=록", vec!["함=수", "목=록"]),
    ];
    for (input, want) in cases {
        assert_eq!(split_terms(input), want, "{input:?}");
    }
}

#[test]
fn split_term_table() {
    use FieldOperator::*;
    let cases = [
        (r"a=value", Some(("a", Eq, "value"))),
        (r"b==value", Some(("b", Eq, "value"))),
        (r"c!=value", Some(("c", NotEq, "value"))),
        (r"", None),
        (r"a", None),
        (r"a!b", None),
        (r"k=\,", Some(("k", Eq, r"\,"))),
        (r"k=\=", Some(("k", Eq, r"\="))),
        (r"k=\\\a\b\=\,\", Some(("k", Eq, r"\\\a\b\=\,\"))),
        (r"k!==v", Some(("k", NotEq, "=v"))),
        (r"k===v", Some(("k", Eq, "=v"))),
        ("함=수", Some(("함", Eq, "수"))),
    ];
    for (input, want) in cases {
        assert_eq!(split_term(input), want, "{input:?}");
    }
}

#[test]
fn escaping_round_trips() {
    let cases = [
        (r"", r""),
        (r"a", r"a"),
        (r"=", r"\="),
        (r",", r"\,"),
        (r"\", r"\\"),
        (r"\=\,\", r"\\\=\\\,\\"),
        (r"!", r"!"),
    ];
    for (raw, escaped) in cases {
        assert_eq!(escape_value(raw), escaped, "{raw:?}");
        assert_eq!(unescape_value(escaped).unwrap(), raw, "{escaped:?}");
    }
    let invalid = [(r"\", r"\"), (r"\\\", r"\"), (r"\a", r"\a"), (r"\!", r"\!")];
    for (value, seq) in invalid {
        let err = unescape_value(value).unwrap_err();
        assert_eq!(err, FieldSelectorError::InvalidEscape(seq.to_string()));
        assert_eq!(
            err.to_string(),
            format!("invalid field selector: invalid escape sequence: {seq}")
        );
    }
    assert_eq!(
        unescape_value("a=b").unwrap_err().to_string(),
        "invalid field selector: unescaped character in value: 61"
    );
    assert_eq!(
        unescape_value("a,b").unwrap_err().to_string(),
        "invalid field selector: unescaped character in value: 44"
    );
}

#[test]
fn good_strings_round_trip() {
    for s in [
        "x=a,y=b,z=c",
        "",
        "x!=a,y=b",
        r"x=a||y\=b",
        r"x=a\=\=b",
        r"x=a\,b",
        r"x=a\\",
        "metadata.name=foo",
        "spec.nodeName=,status.phase!=Running",
    ] {
        assert_eq!(parse(s).to_string(), s, "{s:?}");
    }
}

#[test]
fn canonical_form() {
    let cases = [
        ("x=a,a=x", "a=x,x=a"),
        ("a=x,x=a", "a=x,x=a"),
        ("x==a", "x=a"),
        (",,x=a,,", "x=a"),
        ("=", ""),
        ("!=", ""),
        ("=,x=a", "x=a"),
        ("a = b", "a = b"),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input).to_string(), want, "{input:?}");
    }
}

#[test]
fn bad_strings() {
    let syntax = |sel: &str, term: &str| FieldSelectorError::Syntax {
        selector: sel.to_string(),
        term: term.to_string(),
    };
    let cases = [
        ("x=a||y=b", FieldSelectorError::UnescapedChar('=')),
        ("x==a==b", FieldSelectorError::UnescapedChar('=')),
        ("x=a,b", syntax("x=a,b", "b")),
        ("x in (a)", syntax("x in (a)", "x in (a)")),
        ("x in (a,b,c)", syntax("x in (a,b,c)", "b")),
        ("x", syntax("x", "x")),
        ("x!a", syntax("x!a", "x!a")),
        (r"x=\a", FieldSelectorError::InvalidEscape(r"\a".into())),
        (r"x=a\", FieldSelectorError::InvalidEscape(r"\".into())),
    ];
    for (input, want) in cases {
        assert_eq!(
            input.parse::<FieldSelector>().unwrap_err(),
            want,
            "{input:?}"
        );
    }
    assert_eq!(
        syntax("x=a,b", "b").to_string(),
        "invalid selector: 'x=a,b'; can't understand 'b'"
    );
}

#[test]
fn requirements_are_sorted_and_unescaped() {
    let sel = parse(r"spec.nodeName!=n1,metadata.name==a\,b,status.phase=");
    assert_eq!(
        sel.requirements(),
        [
            req("metadata.name", FieldOperator::Eq, "a,b"),
            req("spec.nodeName", FieldOperator::NotEq, "n1"),
            req("status.phase", FieldOperator::Eq, ""),
        ]
    );
    assert_eq!(sel.requires_exact_match("metadata.name"), Some("a,b"));
    assert_eq!(sel.requires_exact_match("status.phase"), Some(""));
    assert_eq!(sel.requires_exact_match("spec.nodeName"), None);
    assert_eq!(sel.requires_exact_match("other"), None);
    assert!(!sel.is_empty());
    assert!(parse("").is_empty());
    assert!(FieldSelector::everything().is_empty());
}

#[test]
fn matching() {
    let fieldset = set(&[("foo", "bar"), ("baz", "blah"), ("complex", r"=value\,\")]);
    let cases = [
        ("", set(&[("x", "y")]), true),
        ("x=y", set(&[("x", "y")]), true),
        ("x=y,z=w", set(&[("x", "y"), ("z", "w")]), true),
        ("x!=y,z!=w", set(&[("x", "z"), ("z", "a")]), true),
        ("notin=in", set(&[("notin", "in")]), true),
        ("x=y", set(&[("x", "z")]), false),
        ("x=y,z=w", set(&[("x", "w"), ("z", "w")]), false),
        ("x!=y,z!=w", set(&[("x", "z"), ("z", "w")]), false),
        ("foo=bar", fieldset.clone(), true),
        ("baz=blah", fieldset.clone(), true),
        ("foo=bar,baz=blah", fieldset.clone(), true),
        (
            r"foo=bar,baz=blah,complex=\=value\\\,\\",
            fieldset.clone(),
            true,
        ),
        ("foo=blah", fieldset.clone(), false),
        ("baz=bar", fieldset.clone(), false),
        ("foo=bar,foobar=bar,baz=blah", fieldset.clone(), false),
        // A missing field compares as the empty string.
        ("missing=", set(&[]), true),
        ("missing!=x", set(&[]), true),
        ("missing=x", set(&[]), false),
        ("missing!=", set(&[]), false),
    ];
    for (selector, fields, want) in cases {
        let sel = parse(selector);
        assert_eq!(
            sel.matches(|f| fields.get(f).cloned()),
            want,
            "{selector:?} on {fields:?}"
        );
    }
}
