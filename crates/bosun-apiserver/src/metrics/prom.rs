//! Just enough of the Prometheus text format (0.0.4) to read kubelet's
//! `/metrics/resource`: `name{label="value",...} value [timestamp_ms]`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// The samples of `text`; comment lines and lines that do not parse are
/// skipped (a scrape is best effort, as metrics-server's).
pub fn parse(text: &str) -> Vec<PromSample> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<PromSample> {
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let (labels, rest) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, rest)
        }
        None => {
            let end = line.find(char::is_whitespace)?;
            (&line[..end], BTreeMap::new(), &line[end..])
        }
    };
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let timestamp_ms = fields.next().and_then(|t| t.parse().ok());
    Some(PromSample {
        name: name.trim().to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Labels after `{` up to the closing `}`; returns them and the rest.
fn parse_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|(_, c)| *c == ',' || c.is_whitespace())
        {
            chars.next();
        }
        let (start, c) = chars.next()?;
        if c == '}' {
            return Some((labels, &s[start + 1..]));
        }
        let mut end = start;
        let mut eq = None;
        for (i, c) in chars.by_ref() {
            if c == '=' {
                eq = Some(i);
                break;
            }
            end = i;
        }
        let key = s[start..=end.max(start)].trim().to_string();
        eq?;
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                other => value.push(other),
            }
        }
        labels.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kubelet_resource_metrics() {
        let text = "# HELP x y\n# TYPE node_cpu_usage_seconds_total counter\n\
            node_cpu_usage_seconds_total 357.35 1700000000000\n\
            container_memory_working_set_bytes{container=\"app\",namespace=\"ns\",pod=\"we\\\"b\"} 4096 1700000000001\n\
            scrape_error 0\n\
            garbage{ line\n";
        let s = parse(text);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].name, "node_cpu_usage_seconds_total");
        assert_eq!(s[0].value, 357.35);
        assert_eq!(s[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(s[1].labels["pod"], "we\"b");
        assert_eq!(s[1].labels["container"], "app");
        assert_eq!(s[1].value, 4096.0);
        assert_eq!(s[2].timestamp_ms, None);
    }
}
