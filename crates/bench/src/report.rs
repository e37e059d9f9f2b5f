//! The report's table: its header, one row per measured scenario (throughput, latency
//! percentiles, CPU, answers outside 2xx), and the latency figures it is made of. Shared by the
//! full set (`main.rs`) and the console set (`console.rs`).

use hdrhistogram::Histogram;
use hyper::StatusCode;

use crate::load::Outcome;

pub fn print_header() {
    println!();
    println!(
        "{:<40} {:>9} {:>10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>6}  other answers",
        "scenario",
        "ok",
        "ok/s",
        "×ceil",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "srv µs/rq",
        "srv cr",
        "cli cr"
    );
}

pub fn print_row(name: &str, outcome: &Outcome, ceiling: Option<f64>) {
    let ratio = ceiling
        .filter(|ceiling| *ceiling > 0.0)
        .map(|ceiling| format!("{:.3}", outcome.rate() / ceiling))
        .unwrap_or_else(|| "-".into());
    let others: Vec<String> = outcome
        .statuses
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(status, count)| format!("{status}×{count}"))
        .chain((outcome.errors > 0).then(|| format!("errors×{}", outcome.errors)))
        .collect();
    let optional = |value: Option<f64>, digits: usize| {
        value
            .map(|value| format!("{value:.digits$}"))
            .unwrap_or_else(|| "-".into())
    };
    let client_cores = outcome
        .client_cpu
        .filter(|_| !outcome.elapsed.is_zero())
        .map(|cpu| cpu.as_secs_f64() / outcome.elapsed.as_secs_f64());
    println!(
        "{:<40} {:>9} {:>10.0} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>6} {:>6}  {}",
        name,
        outcome.ok,
        outcome.rate(),
        ratio,
        millis(&outcome.latency, 50.0),
        millis(&outcome.latency, 99.0),
        millis(&outcome.latency, 99.9),
        outcome.latency.max() as f64 / 1000.0,
        optional(outcome.server_cpu_per_request(), 0),
        optional(outcome.server_cores(), 2),
        optional(client_cores, 2),
        others.join(" ")
    );
    if let Some(command_latency) = &outcome.command_latency {
        println!(
            "{:<40} {:>9} {:>10} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {} POSTs ({} got 412), {} re-reads",
            "  └ per landed command, retries included",
            "",
            "",
            "",
            millis(command_latency, 50.0),
            millis(command_latency, 99.0),
            millis(command_latency, 99.9),
            command_latency.max() as f64 / 1000.0,
            outcome.requests,
            outcome.count(StatusCode::PRECONDITION_FAILED),
            outcome.rereads,
        );
    }
}

/// A latency percentile of `histogram` (µs) in milliseconds.
pub fn millis(histogram: &Histogram<u64>, percentile: f64) -> f64 {
    histogram.value_at_percentile(percentile) as f64 / 1000.0
}
