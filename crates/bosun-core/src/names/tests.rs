use super::*;

const LABEL_REGEX_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_REGEX_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const NAME_PART_REGEX_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_REGEX_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn regex_error_formats() {
    assert_eq!(
        regex_error("m", "f", &[]),
        "m (regex used for validation is 'f')"
    );
    assert_eq!(
        regex_error("m", "f", &["a"]),
        "m (e.g. 'a', regex used for validation is 'f')"
    );
    assert_eq!(
        regex_error("m", "f", &["a", "b"]),
        "m (e.g. 'a',  or 'b', regex used for validation is 'f')"
    );
}

#[test]
fn dns1123_label() {
    let good = [
        "a",
        "ab",
        "abc",
        "a1",
        "a-1",
        "a--1--2--b",
        "0",
        "01",
        "012",
        "1a",
        "1-a",
        "1--a--b--2",
        &"a".repeat(63),
    ];
    for v in good {
        assert!(is_dns1123_label(v).is_empty(), "{v:?}");
    }
    let bad = [
        "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a",
        "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a",
        "a b", "1 ", " 1", "1 2",
    ];
    for v in bad {
        assert_eq!(
            is_dns1123_label(v),
            vec![LABEL_REGEX_MSG.to_string()],
            "{v:?}"
        );
    }
    assert_eq!(
        is_dns1123_label(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
    assert_eq!(
        is_dns1123_label(&"A".repeat(64)),
        vec![
            "must be no more than 63 characters".to_string(),
            LABEL_REGEX_MSG.to_string()
        ]
    );
}

#[test]
fn dns1123_subdomain() {
    let good = [
        "a",
        "ab",
        "a1",
        "a-1",
        "0",
        "1a",
        "a.a",
        "ab.ab",
        "a-1.a-1",
        "0.0",
        "1--a--b--2.1--a--b--2",
        "example.com",
        &"a".repeat(253),
    ];
    for v in good {
        assert!(is_dns1123_subdomain(v).is_empty(), "{v:?}");
    }
    let bad = [
        "", "A", "ABC", "aBc", "-", "a-", "-a", "_", "a_b", ".", "a.", ".a", "a..b", "1.", ".1",
        "a.-a", "a-.a", " ", "a b", "a@b", "a,b",
    ];
    for v in bad {
        assert_eq!(
            is_dns1123_subdomain(v),
            vec![SUBDOMAIN_REGEX_MSG.to_string()],
            "{v:?}"
        );
    }
    assert_eq!(
        is_dns1123_subdomain(&"a".repeat(254)),
        vec!["must be no more than 253 characters".to_string()]
    );
}

#[test]
fn dns1035_label() {
    for v in ["a", "ab", "a-1", "a--1--2--b", &"a".repeat(63)] {
        assert!(is_dns1035_label(v).is_empty(), "{v:?}");
    }
    let msg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    for v in ["", "0", "1a", "A", "a-", "-a", "a.b", "a_b"] {
        assert_eq!(is_dns1035_label(v), vec![msg.to_string()], "{v:?}");
    }
    assert_eq!(
        is_dns1035_label(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}

#[test]
fn qualified_names_valid() {
    let good = [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "1234",
        "simple/simple",
        "now-with-dashes/simple",
        "now-with-dashes/now-with-dashes",
        "now.with.dots/simple",
        "now-with.dashes-and.dots/simple",
        "1-num.2-num/3-num",
        "1234/5678",
        "1.2.3.4/5678",
        "Uppercase_Is_OK_123",
        "example.com/Uppercase_Is_OK_123",
        "requests.storage-foo",
        &"a".repeat(63),
        &format!("{}/b", "a".repeat(253)),
    ];
    for v in good {
        assert!(is_qualified_name(v).is_empty(), "{v:?}");
    }
}

#[test]
fn qualified_names_invalid() {
    let too_many = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "nospecialchars%^=@".into(),
            vec![NAME_PART_REGEX_MSG.into()],
        ),
        ("cantendwithadash-".into(), vec![NAME_PART_REGEX_MSG.into()]),
        (
            "-cantstartwithadash-".into(),
            vec![NAME_PART_REGEX_MSG.into()],
        ),
        ("only/one/slash".into(), vec![too_many.into()]),
        (
            "Example.com/abc".into(),
            vec![format!("prefix part {SUBDOMAIN_REGEX_MSG}")],
        ),
        (
            "example_com/abc".into(),
            vec![format!("prefix part {SUBDOMAIN_REGEX_MSG}")],
        ),
        (
            "/simple".into(),
            vec!["prefix part must be non-empty".into()],
        ),
        (
            "example.com/".into(),
            vec![
                "name part must be non-empty".into(),
                NAME_PART_REGEX_MSG.into(),
            ],
        ),
        (
            "".into(),
            vec![
                "name part must be non-empty".into(),
                NAME_PART_REGEX_MSG.into(),
            ],
        ),
        ("a b".into(), vec![NAME_PART_REGEX_MSG.into()]),
        (
            "a".repeat(64),
            vec!["name part must be no more than 63 characters".into()],
        ),
        (
            format!("{}/b", "a".repeat(254)),
            vec!["prefix part must be no more than 253 characters".into()],
        ),
        (
            "Bad.Prefix/bad name".into(),
            vec![
                format!("prefix part {SUBDOMAIN_REGEX_MSG}"),
                NAME_PART_REGEX_MSG.into(),
            ],
        ),
    ];
    for (v, want) in cases {
        assert_eq!(is_qualified_name(&v), want, "{v:?}");
    }
}

#[test]
fn label_values() {
    for v in [
        "",
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "end-with-num-1",
        "1234",
        "ALLCAPS",
        "Mixed_Case.with-symbols",
        &"a".repeat(63),
    ] {
        assert!(is_valid_label_value(v).is_empty(), "{v:?}");
    }
    for v in [
        "nospecialchars%^=@",
        "Tama-nui-te-rā.is.Māori.sun",
        "\\backslashes\\are\\bad",
        "-starts-with-dash",
        "ends-with-dash-",
        ".starts.with.dot",
        "ends.with.dot.",
        "a b",
    ] {
        assert_eq!(
            is_valid_label_value(v),
            vec![LABEL_VALUE_REGEX_MSG.to_string()],
            "{v:?}"
        );
    }
    assert_eq!(
        is_valid_label_value(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}

#[test]
fn go_quoting() {
    let cases = [
        ("", r#""""#),
        ("abc", r#""abc""#),
        ("a\"b", r#""a\"b""#),
        ("a\\b", r#""a\\b""#),
        ("a\nb\tc\r", r#""a\nb\tc\r""#),
        ("\u{1}", r#""\x01""#),
        ("\u{7f}", r#""\x7f""#),
        ("rā", "\"rā\""),
        ("\u{85}", r#""\u0085""#),
    ];
    for (input, want) in cases {
        assert_eq!(go_quote(input), want, "{input:?}");
    }
}
