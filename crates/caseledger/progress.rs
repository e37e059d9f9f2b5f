//! Progress on stderr for the long offline commands: [`progress_bar`], a bar shown only on a
//! terminal (export, rebuild, demo), and [`Progress`], a bar on a terminal or else a line every
//! tenth of the way (copy, backup, restore, whose logs are often kept).

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub(crate) fn progress_bar(length: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar
}

/// Progress on stderr: a bar on a terminal, otherwise a line every tenth of the way (or every
/// 100,000 events when the total is unknown).
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: Option<u64>,
    reported: u64,
}

impl Progress {
    pub(crate) fn new(what: &'static str, total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec}, {eta} left)"
            } else {
                "{msg} [{elapsed_precise}] {spinner} {pos} events ({per_sec})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(what);
            bar
        });
        Progress {
            bar,
            what,
            total,
            reported: 0,
        }
    }

    pub(crate) fn set(&mut self, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(events);
            return;
        }
        let step = match self.total {
            Some(total) => (total / 10).max(1),
            None => 100_000,
        };
        if events >= self.reported + step {
            self.reported = events;
            match self.total {
                Some(total) => eprintln!("{}: {events}/{total} events", self.what),
                None => eprintln!("{}: {events} events", self.what),
            }
        }
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
