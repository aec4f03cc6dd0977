//! Output shared by the on-call commands: progress that suits where it is
//! shown (a bar on a terminal, plain lines in a log), and time filters.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};

/// Progress over `total` items: a bar on a terminal, a line every 10 % otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    label: &'static str,
}

impl Progress {
    pub fn new(total: u64, label: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} ({eta})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        Self {
            bar,
            total,
            done: 0,
            label,
        }
    }

    pub fn inc(&mut self) {
        self.done += 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let step = (self.total / 10).max(1);
                if self.done.is_multiple_of(step) || self.done == self.total {
                    eprintln!("{}: {}/{}", self.label, self.done, self.total);
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Why `--since`/`--until` could not be read (clap shows the typed text).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeError {
    #[error("an RFC 3339 time or a span like 90m, 24h, 7d")]
    Unreadable,
    #[error("the unit of a span is m, h or d")]
    Unit,
}

/// `2026-11-01T00:00:00Z`, or a span back from now: `90m`, `24h`, `7d`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, TimeError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| TimeError::Unreadable)?;
    let span = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(TimeError::Unit),
    };
    Ok(Utc::now() - span)
}

/// RFC 3339 in UTC with `Z` (`2026-11-30T10:00:00Z`): one spelling that
/// scripts parse and `--since` accepts back.
pub fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_owned())
}

/// A table for on-call: a header row, columns sized to their contents, no
/// borders (so it reads in a terminal and greps in a log).
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header(header.to_vec());
    table
}

#[cfg(test)]
mod when_tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_print_as_rfc_3339_with_z_and_parse_back() {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 5).single();
        assert_eq!(when(t), "2026-11-30T10:00:05Z");
        assert_eq!(parse_time(&when(t)).ok(), t);
        assert_eq!(when(None), "-");
    }
}
