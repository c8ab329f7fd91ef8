//! Benchmark results: a readable table, or JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::stats::{Percentiles, Recorder};

/// One measured operation.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub name: String,
    /// Successful operations.
    pub ops: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Successful operations per second of wall time.
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl Row {
    pub fn from_recorder(name: impl Into<String>, rec: &mut Recorder, wall: Duration) -> Row {
        let ops = rec.count();
        Row::from_latencies(name, &mut rec.latencies_us, ops, rec.errors, wall)
    }

    /// A row whose rate counts `ops` and whose percentiles come from
    /// `latencies_us` (which may count something else, e.g. deliveries).
    pub fn from_latencies(
        name: impl Into<String>,
        latencies_us: &mut [u64],
        ops: u64,
        errors: u64,
        wall: Duration,
    ) -> Row {
        let seconds = wall.as_secs_f64();
        let p = Percentiles::of(latencies_us);
        let ms = |us: u64| us as f64 / 1000.0;
        Row {
            name: name.into(),
            ops,
            errors,
            seconds,
            per_second: if seconds > 0.0 {
                ops as f64 / seconds
            } else {
                0.0
            },
            p50_ms: p.map(|p| ms(p.p50_us)),
            p99_ms: p.map(|p| ms(p.p99_us)),
            max_ms: p.map(|p| ms(p.max_us)),
        }
    }
}

/// A named number that is not a row (sizes, memory, medians).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Fact {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub benchmark: String,
    /// Free text describing what was measured (server URL, backend, label).
    pub target: String,
    pub parameters: Vec<(String, String)>,
    pub rows: Vec<Row>,
    pub facts: Vec<Fact>,
    /// Samples of failures, prefixed by the operation.
    pub errors: Vec<String>,
    /// CPU use per phase of the benchmark and the processes under test.
    pub cpu: Vec<String>,
}

impl Report {
    pub fn new(benchmark: &str, target: impl Into<String>) -> Report {
        Report {
            benchmark: benchmark.into(),
            target: target.into(),
            ..Report::default()
        }
    }

    pub fn param(&mut self, name: &str, value: impl ToString) {
        self.parameters.push((name.into(), value.to_string()));
    }

    pub fn fact(&mut self, name: &str, value: f64, unit: &str) {
        self.facts.push(Fact {
            name: name.into(),
            value,
            unit: unit.into(),
        });
    }

    /// Adds a row from a recorder and keeps its error samples.
    pub fn record(&mut self, name: &str, rec: &mut Recorder, wall: Duration) -> &Row {
        for sample in &rec.error_samples {
            self.errors.push(format!("{name}: {sample}"));
        }
        self.rows.push(Row::from_recorder(name, rec, wall));
        let last = self.rows.len() - 1;
        &self.rows[last]
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "benchmark": self.benchmark,
            "target": self.target,
            "parameters": self.parameters.iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
            "rows": self.rows,
            "facts": self.facts,
            "errors": self.errors,
            "cpu": self.cpu,
        })
    }

    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== bosun-bench {} — {} ==",
            self.benchmark, self.target
        );
        if !self.parameters.is_empty() {
            let params: Vec<String> = self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "parameters: {}", params.join(" "));
        }
        if !self.rows.is_empty() {
            let width = self
                .rows
                .iter()
                .map(|r| r.name.chars().count())
                .max()
                .unwrap_or(0)
                .max(9);
            let _ = writeln!(
                out,
                "{:<width$}  {:>9} {:>7} {:>8} {:>10} {:>9} {:>9} {:>9}",
                "operation", "ok", "errors", "secs", "per sec", "p50 ms", "p99 ms", "max ms"
            );
            for r in &self.rows {
                let _ = writeln!(
                    out,
                    "{:<width$}  {:>9} {:>7} {:>8.2} {:>10.1} {:>9} {:>9} {:>9}",
                    r.name,
                    r.ops,
                    r.errors,
                    r.seconds,
                    r.per_second,
                    opt_ms(r.p50_ms),
                    opt_ms(r.p99_ms),
                    opt_ms(r.max_ms)
                );
            }
        }
        if !self.facts.is_empty() {
            let width = self
                .facts
                .iter()
                .map(|f| f.name.chars().count())
                .max()
                .unwrap_or(0);
            for f in &self.facts {
                let _ = writeln!(
                    out,
                    "  {:<width$}  {} {}",
                    f.name,
                    format_value(f.value),
                    f.unit
                );
            }
        }
        if !self.cpu.is_empty() {
            let _ = writeln!(out, "cpu:");
            for c in &self.cpu {
                let _ = writeln!(out, "  {c}");
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "error samples:");
            for e in &self.errors {
                let _ = writeln!(out, "  {e}");
            }
        }
        out
    }
}

fn opt_ms(v: Option<f64>) -> String {
    match v {
        Some(ms) if ms >= 100.0 => format!("{ms:.0}"),
        Some(ms) if ms >= 10.0 => format!("{ms:.1}"),
        Some(ms) => format!("{ms:.2}"),
        None => "-".into(),
    }
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_rate_and_percentiles() {
        let mut rec = Recorder::default();
        for ms in 1..=100u64 {
            rec.ok(Duration::from_millis(ms));
        }
        rec.err(|| "boom".into());
        let row = Row::from_recorder("get", &mut rec, Duration::from_secs(2));
        assert_eq!(row.ops, 100);
        assert_eq!(row.errors, 1);
        assert_eq!(row.per_second, 50.0);
        assert_eq!(row.p50_ms, Some(50.0));
        assert_eq!(row.p99_ms, Some(99.0));
        assert_eq!(row.max_ms, Some(100.0));
    }

    #[test]
    fn empty_row_has_no_percentiles() {
        let row = Row::from_latencies("x", &mut [], 0, 3, Duration::ZERO);
        assert_eq!((row.per_second, row.p50_ms), (0.0, None));
    }

    #[test]
    fn table_and_json_carry_everything() {
        let mut report = Report::new("api", "https://127.0.0.1:1 (embedded)");
        report.param("clients", 100);
        let mut rec = Recorder::default();
        rec.ok(Duration::from_micros(1500));
        rec.err(|| "409 Conflict".into());
        report.record("update", &mut rec, Duration::from_secs(1));
        report.fact("RSS per 100k pods", 512.25, "MiB");
        let table = report.to_table();
        for needle in [
            "bosun-bench api",
            "clients=100",
            "update",
            "1.50",
            "RSS per 100k pods  512.2 MiB",
            "update: 409 Conflict",
        ] {
            assert!(table.contains(needle), "{needle:?} missing in\n{table}");
        }
        let json = report.to_json();
        assert_eq!(json["rows"][0]["name"], "update");
        assert_eq!(json["rows"][0]["errors"], 1);
        assert_eq!(json["parameters"]["clients"], "100");
        assert_eq!(json["facts"][0]["unit"], "MiB");
    }

    #[test]
    fn value_formatting() {
        let cases = [
            (3.0, "3"),
            (1234.5678, "1234.6"),
            (0.12345, "0.123"),
            (2.5, "2.500"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(v), want);
        }
        assert_eq!(opt_ms(Some(123.4)), "123");
        assert_eq!(opt_ms(Some(12.34)), "12.3");
        assert_eq!(opt_ms(Some(1.234)), "1.23");
        assert_eq!(opt_ms(None), "-");
    }
}
