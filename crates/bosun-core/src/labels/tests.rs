#![allow(clippy::unwrap_used)]

use serde_json::{json, Map, Value};

use super::*;

const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

fn parse(s: &str) -> Selector {
    s.parse::<Selector>()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn parse_err(s: &str) -> String {
    match s.parse::<Selector>() {
        Ok(sel) => panic!("{s:?} should fail, got {sel:?}"),
        Err(e) => e.to_string(),
    }
}

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn req(key: &str, op: Operator, values: &[&str]) -> Requirement {
    Requirement::new(key, op, values.iter().map(|v| v.to_string()).collect()).unwrap()
}

#[test]
fn good_strings_round_trip_without_spaces() {
    // Upstream's parse test: the canonical form equals the input minus spaces.
    for s in [
        "x=a,y=b,z=c",
        "",
        "x!=a,y=b",
        "x=",
        "x= ",
        "x=,z= ",
        "x= ,z= ",
        "!x",
        "x>1",
        "x>1,z<5",
        "x==a",
        "a,b",
    ] {
        assert_eq!(parse(s).to_string(), s.replace(' ', ""), "{s:?}");
    }
}

#[test]
fn canonical_form_sorts_and_normalizes() {
    let cases = [
        ("x=a,a=x", "a=x,x=a"),
        ("a=x,x=a", "a=x,x=a"),
        ("z=1,a=2,m", "a=2,m,z=1"),
        ("  x  =  a  ,  y  ", "x=a,y"),
        ("x in (b,a,b)", "x in (a,b)"),
        ("x in ( b , a )", "x in (a,b)"),
        (
            "x notin (abc,def),bar,z in (),w",
            "bar,w,x notin (abc,def),z in ()",
        ),
        ("x in (abc,)", "x in (,abc)"),
        ("x notin (, a)", "x notin (,a)"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("x in (a,,,b)", "x in (,a,b)"),
        ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
        ("in in (in)", "in in (in)"),
        ("notin=in", "notin=in"),
        ("\rx", "x"),
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x=a\0,garbage(", "x=a"),
        ("x=b,x!=a", "x=b,x!=a"),
        ("x!=a,x=b", "x!=a,x=b"),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input).to_string(), want, "{input:?}");
    }
}

#[test]
fn parsed_requirements() {
    let cases: Vec<(&str, Vec<Requirement>)> = vec![
        ("", vec![]),
        ("x", vec![req("x", Operator::Exists, &[])]),
        ("!x", vec![req("x", Operator::DoesNotExist, &[])]),
        ("x=a", vec![req("x", Operator::Equals, &["a"])]),
        ("x==a", vec![req("x", Operator::DoubleEquals, &["a"])]),
        ("x!=a", vec![req("x", Operator::NotEquals, &["a"])]),
        ("x>1", vec![req("x", Operator::GreaterThan, &["1"])]),
        ("x<7", vec![req("x", Operator::LessThan, &["7"])]),
        ("x=", vec![req("x", Operator::Equals, &[""])]),
        ("x in ()", vec![req("x", Operator::In, &[""])]),
        ("x notin ( )", vec![req("x", Operator::NotIn, &[""])]),
        ("x in (b,a)", vec![req("x", Operator::In, &["a", "b"])]),
        (
            "x,y in (a)",
            vec![
                req("x", Operator::Exists, &[]),
                req("y", Operator::In, &["a"]),
            ],
        ),
        (
            "x=a,y!=b,z in (h,i,j)",
            vec![
                req("x", Operator::Equals, &["a"]),
                req("y", Operator::NotEquals, &["b"]),
                req("z", Operator::In, &["h", "i", "j"]),
            ],
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input).requirements(), want.as_slice(), "{input:?}");
    }
}

#[test]
fn bad_strings_report_upstream_messages() {
    let value_msg = |key: &str, v: &str| {
        format!("unable to parse requirement: values[0][{key}]: Invalid value: \"{v}\": {LABEL_VALUE_MSG}")
    };
    let int_msg = |v: &str| {
        format!("values[0]: Invalid value: \"{v}\": for 'Gt', 'Lt' operators, the value must be an integer")
    };
    let cases: Vec<(&str, String)> = vec![
        ("x=a||y=b", value_msg("x", "a||y")),
        ("x==a==b", "found '==', expected: ',' or 'end of string'".into()),
        ("!x=a", "found '=', expected: ',' or 'end of string'".into()),
        ("x<a", format!("unable to parse requirement: {}", int_msg("a"))),
        ("x>", format!("unable to parse requirement: {}", int_msg(""))),
        ("x>-1", value_msg("x", "-1")),
        (
            "x>_a",
            format!(
                "unable to parse requirement: [{}, values[0][x]: Invalid value: \"_a\": {LABEL_VALUE_MSG}]",
                int_msg("_a")
            ),
        ),
        (",x,y", "found ',', expected: !, identifier, or 'end of string'".into()),
        (
            "x nott in (y)",
            "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"
                .into(),
        ),
        (
            "env IN (a)",
            "unable to parse requirement: found 'IN', expected: in, notin, =, ==, !=, gt, lt"
                .into(),
        ),
        (
            "x!a",
            "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"
                .into(),
        ),
        ("a in (xyz),", "found '', expected: identifier after ','".into()),
        ("a,,b", "found ',', expected: identifier after ','".into()),
        ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'".into()),
        ("x=a b", "found 'b', expected: ',' or 'end of string'".into()),
        (
            "a in (xyz abc)",
            "unable to parse requirement: found 'abc', expected: ',' or ')'".into(),
        ),
        (
            "x in (a,b",
            "unable to parse requirement: found '', expected: ',' or ')'".into(),
        ),
        (
            "a notin(",
            "unable to parse requirement: found '', expected: ',', ')' or identifier".into(),
        ),
        (
            "x in (a,=)",
            "unable to parse requirement: found '=', expected: ',', or identifier".into(),
        ),
        ("x in", "unable to parse requirement: found '' expected: '('".into()),
        ("x in a", "unable to parse requirement: found 'a' expected: '('".into()),
        (
            "a (",
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt".into(),
        ),
        ("(", "found '(', expected: !, identifier, or 'end of string'".into()),
        ("!", "unable to parse requirement: found '', expected: identifier".into()),
        ("!!x", "unable to parse requirement: found '!', expected: identifier".into()),
        ("x=(", "unable to parse requirement: found '(', expected: identifier".into()),
        ("x===a", "unable to parse requirement: found '=', expected: identifier".into()),
        (
            "&foo",
            format!("unable to parse requirement: <nil>: Invalid value: \"&foo\": {NAME_PART_MSG}"),
        ),
        (
            "foo/",
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"foo/\": name part must be non-empty; {NAME_PART_MSG}"
            ),
        ),
        (
            "/foo=bar",
            "unable to parse requirement: <nil>: Invalid value: \"/foo\": prefix part must be non-empty"
                .into(),
        ),
        (
            "a/b/c",
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_err(input), want, "{input:?}");
    }
}

#[test]
fn length_limits() {
    let name63 = "k".repeat(63);
    let value63 = "v".repeat(63);
    assert_eq!(
        parse(&format!("example.com/{name63}={value63}")).to_string(),
        format!("example.com/{name63}={value63}")
    );
    let value64 = "v".repeat(64);
    assert_eq!(
        parse_err(&format!("x={value64}")),
        format!(
            "unable to parse requirement: values[0][x]: Invalid value: \"{value64}\": must be no more than 63 characters"
        )
    );
    let name64 = "k".repeat(64);
    assert_eq!(
        parse_err(&name64),
        format!(
            "unable to parse requirement: <nil>: Invalid value: \"{name64}\": name part must be no more than 63 characters"
        )
    );
}

#[test]
fn matching() {
    let cases = [
        ("", json!({"x": "y"}), true),
        ("", json!({}), true),
        ("x=y", json!({"x": "y"}), true),
        ("x==y", json!({"x": "y"}), true),
        ("x=y", json!({"x": "z"}), false),
        ("x=z", json!({}), false),
        ("x=", json!({"x": ""}), true),
        ("x=", json!({}), false),
        ("x=y,z=w", json!({"x": "y", "z": "w"}), true),
        ("x=y,z=w", json!({"x": "w", "z": "w"}), false),
        ("x!=y", json!({}), true),
        ("x!=y", json!({"x": "y"}), false),
        ("x!=y,z!=w", json!({"x": "z", "z": "a"}), true),
        ("x!=y,z!=w", json!({"x": "z", "z": "w"}), false),
        ("notin=in", json!({"notin": "in"}), true),
        ("x", json!({"x": "z"}), true),
        ("x", json!({"x": ""}), true),
        ("x", json!({"y": "z"}), false),
        ("!x", json!({"y": "z"}), true),
        ("!x", json!({"x": "z"}), false),
        ("x in (a,b)", json!({"x": "b"}), true),
        ("x in (a,b)", json!({"x": "c"}), false),
        ("x in (a,b)", json!({}), false),
        ("x in ()", json!({"x": ""}), true),
        ("x in ()", json!({"y": "baz"}), false),
        ("x notin (a,b)", json!({}), true),
        ("x notin (a,b)", json!({"x": "a"}), false),
        ("x notin (a,b)", json!({"x": "c"}), true),
        ("x notin (),y", json!({"y": ""}), true),
        ("x notin (),!y", json!({"y": ""}), false),
        ("!x,y", json!({"y": ""}), true),
        ("x>1", json!({"x": "2"}), true),
        ("x>1", json!({"x": "1"}), false),
        ("x>1", json!({"x": "0"}), false),
        ("x>1", json!({"x": "v2"}), false),
        ("x>1", json!({}), false),
        ("x<1", json!({"x": "0"}), true),
        ("x<1", json!({"x": "-5"}), true),
        ("x<1", json!({"x": "2"}), false),
        ("x<1", json!({}), false),
        (
            "foo=bar,baz=blah",
            json!({"foo": "bar", "baz": "blah"}),
            true,
        ),
        (
            "foo=bar,foobar=bar,baz=blah",
            json!({"foo": "bar", "baz": "blah"}),
            false,
        ),
        // Non-string label values are treated as absent.
        ("x", json!({"x": 1}), false),
        ("!x", json!({"x": null}), true),
    ];
    for (selector, set, want) in cases {
        let sel = parse(selector);
        assert_eq!(
            sel.matches(&labels(set.clone())),
            want,
            "{selector:?} on {set}"
        );
        let obj = json!({"metadata": {"labels": set}});
        assert_eq!(sel.matches_object(&obj), want, "{selector:?} on object");
    }
}

#[test]
fn matches_object_without_labels() {
    let obj = json!({"metadata": {"name": "p"}});
    assert!(parse("").matches_object(&obj));
    assert!(parse("!x").matches_object(&obj));
    assert!(parse("x!=a").matches_object(&obj));
    assert!(!parse("x").matches_object(&obj));
}

#[test]
fn everything_and_nothing() {
    let all = Selector::everything();
    assert!(all.is_empty());
    assert!(!all.is_nothing());
    assert!(all.matches(&labels(json!({"x": "y"}))));
    assert_eq!(all.to_string(), "");
    assert_eq!(parse(" \t"), all);

    let none = Selector::nothing();
    assert!(!none.is_empty());
    assert!(none.is_nothing());
    assert!(!none.matches(&labels(json!({}))));
    assert!(!none.matches(&labels(json!({"x": "y"}))));
    assert_eq!(none.to_string(), "");
}

#[test]
fn display_of_constructed_requirements() {
    let cases = [
        (
            vec![
                req("x", Operator::In, &["abc", "def"]),
                req("y", Operator::NotIn, &["jkl"]),
                req("z", Operator::Exists, &[]),
            ],
            "x in (abc,def),y notin (jkl),z",
        ),
        (
            vec![
                req("x", Operator::NotIn, &["abc", "def"]),
                req("y", Operator::NotEquals, &["jkl"]),
                req("z", Operator::DoesNotExist, &[]),
            ],
            "x notin (abc,def),y!=jkl,!z",
        ),
        (
            vec![
                req("x", Operator::NotIn, &["abc"]),
                req("y", Operator::In, &["jkl", "mno"]),
                req("z", Operator::NotIn, &[""]),
            ],
            "x notin (abc),y in (jkl,mno),z notin ()",
        ),
        (
            vec![
                req("x", Operator::Equals, &["abc"]),
                req("y", Operator::DoubleEquals, &["jkl"]),
                req("z", Operator::NotEquals, &["a"]),
                req("z", Operator::Exists, &[]),
            ],
            "x=abc,y==jkl,z!=a,z",
        ),
        (
            vec![
                req("x", Operator::GreaterThan, &["2"]),
                req("y", Operator::LessThan, &["8"]),
                req("z", Operator::Exists, &[]),
            ],
            "x>2,y<8,z",
        ),
    ];
    for (reqs, want) in cases {
        let sel = Selector::from_requirements(reqs);
        assert_eq!(sel.to_string(), want);
        // The canonical form parses back to an equivalent selector.
        assert_eq!(parse(want).to_string(), want);
    }
    // Values are sorted on output only (duplicates kept); keys are sorted
    // by construction.
    let sel = Selector::from_requirements(vec![
        req("z", Operator::In, &["def", "abc", "abc"]),
        req("a", Operator::Exists, &[]),
    ]);
    assert_eq!(sel.to_string(), "a,z in (abc,abc,def)");
    let r = req("x", Operator::In, &["b", "a"]);
    assert_eq!(r.values(), ["b", "a"]);
    assert_eq!(r.to_string(), "x in (a,b)");
}

#[test]
fn round_trip_is_stable() {
    for s in [
        "x in (c,b,a),!y,z>10,w<3,a.b/c=d,q!=,r==s",
        "x notin (),  y  in (a ,, b)",
        "k8s.io/app notin (web),k8s.io/app",
    ] {
        let once = parse(s);
        let text = once.to_string();
        let twice = parse(&text);
        assert_eq!(twice.to_string(), text, "{s:?}");
        assert_eq!(twice.requirements(), once.requirements(), "{s:?}");
    }
}

#[test]
fn requirement_constructor() {
    let long_key = "a".repeat(254);
    let cases: Vec<(&str, Operator, Vec<&str>, Option<String>)> = vec![
        (
            "x",
            Operator::In,
            vec![],
            Some("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into()),
        ),
        (
            "x",
            Operator::NotIn,
            vec![],
            Some("values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty".into()),
        ),
        ("x", Operator::In, vec!["foo"], None),
        ("x", Operator::NotIn, vec!["foo"], None),
        ("x", Operator::Exists, vec![], None),
        ("x", Operator::DoesNotExist, vec![], None),
        ("1foo", Operator::In, vec!["bar"], None),
        ("1234", Operator::In, vec!["bar"], None),
        ("y", Operator::GreaterThan, vec!["1"], None),
        ("z", Operator::LessThan, vec!["6"], None),
        (
            "foo",
            Operator::GreaterThan,
            vec!["bar"],
            Some("values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer".into()),
        ),
        (
            "x",
            Operator::GreaterThan,
            vec!["1", "2"],
            Some("values: Invalid value: []string{\"1\", \"2\"}: for 'Gt', 'Lt' operators, exactly one value is required".into()),
        ),
        (
            "x",
            Operator::Equals,
            vec!["a", "b"],
            Some("values: Invalid value: []string{\"a\", \"b\"}: exact-match compatibility requires one single value".into()),
        ),
        (
            "x",
            Operator::Exists,
            vec!["a"],
            Some("values: Invalid value: []string{\"a\"}: values set must be empty for exists and does not exist".into()),
        ),
        (
            &long_key,
            Operator::Exists,
            vec![],
            Some(format!("key: Invalid value: \"{long_key}\": name part must be no more than 63 characters")),
        ),
        (
            "a b",
            Operator::Equals,
            vec!["-x"],
            Some(format!(
                "[key: Invalid value: \"a b\": {NAME_PART_MSG}, values[0][a b]: Invalid value: \"-x\": {LABEL_VALUE_MSG}]"
            )),
        ),
    ];
    for (key, op, values, want) in cases {
        let got = Requirement::new(key, op, values.iter().map(|v| v.to_string()).collect());
        match want {
            None => assert!(got.is_ok(), "{key:?} {op:?} {values:?}: {got:?}"),
            Some(msg) => assert_eq!(
                got.unwrap_err(),
                SelectorError::InvalidRequirement(msg),
                "{key:?} {op:?} {values:?}"
            ),
        }
    }
}

#[test]
fn label_selector_conversion() {
    let cases = [
        (json!({}), ""),
        (json!({"matchLabels": null, "matchExpressions": null}), ""),
        (json!({"matchLabels": {}, "matchExpressions": []}), ""),
        (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
        (
            json!({"matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["cache"]},
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "y", "operator": "DoesNotExist"},
                {"key": "x", "operator": "Exists", "values": []},
            ]}),
            "env in (dev,prod),tier notin (cache),x,!y",
        ),
        (
            json!({"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]}),
            "a,z=1",
        ),
        (json!({"matchLabels": {"app": ""}}), "app="),
    ];
    for (input, want) in cases {
        let sel = from_label_selector(&input).unwrap();
        assert_eq!(sel.to_string(), want, "{input}");
        assert!(!sel.is_nothing());
        assert_eq!(sel.is_empty(), want.is_empty(), "{input}");
    }

    let sel = from_label_selector(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]
    }))
    .unwrap();
    assert!(sel.matches(&labels(json!({"app": "web", "env": "dev"}))));
    assert!(!sel.matches(&labels(json!({"app": "web", "env": "qa"}))));
    assert!(!sel.matches(&labels(json!({"env": "dev"}))));
    assert_eq!(sel.requires_exact_match("app"), Some("web"));
    assert_eq!(sel.requires_exact_match("env"), None);

    let none = from_label_selector(&Value::Null).unwrap();
    assert!(none.is_nothing());
    assert!(!none.matches(&labels(json!({}))));

    let all = from_label_selector(&json!({})).unwrap();
    assert!(all.matches(&labels(json!({"any": "thing"}))));
}

#[test]
fn label_selector_conversion_errors() {
    let empty_in = SelectorError::InvalidRequirement(
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
            .into(),
    );
    let cases = [
        (
            json!({"matchExpressions": [{"key": "name", "operator": "In", "values": []}]}),
            empty_in.clone(),
        ),
        (
            json!({"matchExpressions": [{"key": "name", "operator": "NotIn"}]}),
            empty_in,
        ),
        (
            json!({"matchExpressions": [{"key": "x", "operator": "Exists", "values": ["a", "b"]}]}),
            SelectorError::InvalidRequirement(
                "values: Invalid value: []string{\"a\", \"b\"}: values set must be empty for exists and does not exist".into(),
            ),
        ),
        (
            json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist", "values": ["a"]}]}),
            SelectorError::InvalidRequirement(
                "values: Invalid value: []string{\"a\"}: values set must be empty for exists and does not exist".into(),
            ),
        ),
        (
            json!({"matchExpressions": [{"key": "name", "operator": "Seriously"}]}),
            SelectorError::InvalidOperator("Seriously".into()),
        ),
        (
            json!({"matchExpressions": [{"key": "name", "operator": "in", "values": ["a"]}]}),
            SelectorError::InvalidOperator("in".into()),
        ),
        (
            json!({"matchLabels": {"a b": "x"}}),
            SelectorError::InvalidRequirement(format!(
                "key: Invalid value: \"a b\": {NAME_PART_MSG}"
            )),
        ),
        (
            json!({"matchLabels": {"app": "-x"}}),
            SelectorError::InvalidRequirement(format!(
                "values[0][app]: Invalid value: \"-x\": {LABEL_VALUE_MSG}"
            )),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(from_label_selector(&input).unwrap_err(), want, "{input}");
    }
    assert_eq!(
        SelectorError::InvalidOperator("Seriously".into()).to_string(),
        "\"Seriously\" is not a valid label selector operator"
    );
    assert_eq!(
        SelectorError::InvalidOperator(String::new()).to_string(),
        "\"\" is not a valid label selector operator"
    );
    for malformed in [
        json!("app=web"),
        json!([]),
        json!({"matchLabels": ["a"]}),
        json!({"matchLabels": {"a": 1}}),
        json!({"matchExpressions": {}}),
        json!({"matchExpressions": ["x"]}),
        json!({"matchExpressions": [{"key": 1, "operator": "Exists"}]}),
        json!({"matchExpressions": [{"key": "x", "operator": "In", "values": "a"}]}),
        json!({"matchExpressions": [{"key": "x", "operator": "In", "values": [1]}]}),
    ] {
        assert!(
            matches!(
                from_label_selector(&malformed),
                Err(SelectorError::Malformed(_))
            ),
            "{malformed}"
        );
    }
}

#[test]
fn exact_match_and_sets() {
    let sel = parse("a=1,b==2,c in (3),d in (4,5),e!=6,f");
    assert_eq!(sel.requires_exact_match("a"), Some("1"));
    assert_eq!(sel.requires_exact_match("b"), Some("2"));
    assert_eq!(sel.requires_exact_match("c"), Some("3"));
    assert_eq!(sel.requires_exact_match("d"), None);
    assert_eq!(sel.requires_exact_match("e"), None);
    assert_eq!(sel.requires_exact_match("f"), None);
    assert_eq!(sel.requires_exact_match("zz"), None);

    let set = Selector::from_set([("b", "2"), ("a", "1")]).unwrap();
    assert_eq!(set.to_string(), "a=1,b=2");
    assert!(set.matches(&labels(json!({"a": "1", "b": "2", "c": "3"}))));
    assert!(!set.matches(&labels(json!({"a": "1"}))));
    assert!(Selector::from_set(Vec::<(String, String)>::new())
        .unwrap()
        .is_empty());
    assert!(Selector::from_set([("a", "=bad")]).is_err());
}

#[test]
fn matches_labels_with_lookup() {
    let sel = parse("app=web,tier notin (db)");
    let get = |k: &str| match k {
        "app" => Some("web"),
        _ => None,
    };
    assert!(sel.matches_labels(get));
    assert!(!sel.matches_labels(|_| None));
}
