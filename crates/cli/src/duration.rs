//! Durations in settings. The `*_SECS` names are a fixed contract, so a plain
//! number still means seconds (`25`, `0.5`); a unit may be written instead
//! (`25s`, `2m`, `1h30m`, `500ms`: humantime's syntax). A value below a
//! setting's minimum is a usage error, never silently raised to it.

use std::time::Duration;

/// Why a duration was refused (the text is what the person typed, no secret).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration: seconds (25, 0.5) or with a unit (25s, 2m, 1h30m, 500ms)")]
    Unreadable,
    #[error("at least {}", humantime::format_duration(*.0))]
    TooShort(Duration),
}

/// Reads `text` as plain seconds or a humantime duration.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::Unreadable);
    }
    humantime::parse_duration(text).map_err(|_| DurationError::Unreadable)
}

/// A clap value parser: a duration no shorter than `min`.
pub fn at_least(
    min: Duration,
) -> impl Fn(&str) -> Result<Duration, DurationError> + Clone + Send + Sync + 'static {
    move |text| match parse(text)? {
        d if d >= min => Ok(d),
        _ => Err(DurationError::TooShort(min)),
    }
}

/// A clap value parser: a duration longer than zero.
pub fn positive(text: &str) -> Result<Duration, DurationError> {
    at_least(Duration::from_millis(1))(text)
}

/// A comma-separated list of positive durations (`RETRY_DELAYS`).
pub fn list(text: &str) -> Result<Vec<Duration>, DurationError> {
    let delays = text
        .split(',')
        .map(positive)
        .collect::<Result<Vec<_>, _>>()?;
    if delays.is_empty() {
        return Err(DurationError::Unreadable);
    }
    Ok(delays)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn plain_numbers_are_seconds_and_units_are_read() {
        assert_eq!(parse("25"), Ok(Duration::from_secs(25)));
        assert_eq!(parse(" 0.5 "), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn nonsense_negative_and_short_values_are_refused() {
        assert_eq!(parse("soon"), Err(DurationError::Unreadable));
        assert_eq!(parse("-3"), Err(DurationError::Unreadable));
        assert_eq!(parse("NaN"), Err(DurationError::Unreadable));
        assert_eq!(
            positive("0"),
            Err(DurationError::TooShort(Duration::from_millis(1)))
        );
        let three = at_least(Duration::from_secs(3));
        assert_eq!(
            three("2s"),
            Err(DurationError::TooShort(Duration::from_secs(3)))
        );
        assert_eq!(three("3"), Ok(Duration::from_secs(3)));
        assert_eq!(
            DurationError::TooShort(Duration::from_secs(3)).to_string(),
            "at least 3s"
        );
    }

    #[test]
    fn retry_delays_are_a_list_of_positive_durations() {
        assert_eq!(
            list("5, 30,2m"),
            Ok(vec![
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120)
            ])
        );
        assert!(list("5,,30").is_err());
        assert!(list("5,0").is_err());
    }

    proptest! {
        #[test]
        fn whole_seconds_read_the_same_with_or_without_the_unit(n in 0u64..10_000_000) {
            prop_assert_eq!(parse(&n.to_string()), Ok(Duration::from_secs(n)));
            prop_assert_eq!(parse(&format!("{n}s")), Ok(Duration::from_secs(n)));
        }
    }
}
