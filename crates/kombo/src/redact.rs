//! Kombo's error messages without personal data. A message is kept (Kombo
//! deletes its request logs after 30 days, so its `log_url` goes dead), but it
//! may echo what the request or the HR system held: an e-mail address, a name
//! in quotes. Those are masked; the rest of the sentence, which says what went
//! wrong, stays.

/// The longest message kept: enough for any explanation, no room for a dump.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// `text` with e-mail addresses and quoted values masked, cut at
/// [`MAX_MESSAGE_CHARS`].
pub fn redact_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_CHARS));
    let mut quote: Option<char> = None;
    for word in text.split_inclusive(char::is_whitespace) {
        let (core, space) = match word.char_indices().last() {
            Some((i, c)) if c.is_whitespace() => (&word[..i], &word[i..]),
            _ => (word, ""),
        };
        // Inside a quoted value: drop words until the closing quote.
        if let Some(q) = quote {
            if core.contains(q) {
                quote = None;
                let after = core.rsplit(q).next().unwrap_or("");
                out.push_str(after);
                out.push_str(space);
            }
            continue;
        }
        if let Some(q) = core
            .chars()
            .find(|c| matches!(c, '"' | '\'' | '`' | '“' | '«'))
        {
            let close = match q {
                '“' => '”',
                '«' => '»',
                other => other,
            };
            let start = core.find(q).unwrap_or(0);
            out.push_str(&core[..start]);
            out.push_str("[value]");
            let rest = &core[start + q.len_utf8()..];
            match rest.find(close) {
                Some(end) => {
                    out.push_str(&rest[end + close.len_utf8()..]);
                    out.push_str(space);
                }
                // The closing word adds the space.
                None => quote = Some(close),
            }
            continue;
        }
        if core.contains('@') {
            // Keep the punctuation around the address: "(a@b.c)." stays "([email]).".
            let start = core.find(char::is_alphanumeric).unwrap_or(0);
            let end = core
                .char_indices()
                .rev()
                .find(|(_, c)| c.is_alphanumeric())
                .map_or(core.len(), |(i, c)| i + c.len_utf8());
            out.push_str(&core[..start]);
            out.push_str("[email]");
            out.push_str(&core[end.max(start)..]);
        } else {
            out.push_str(core);
        }
        out.push_str(space);
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_quoted_values_are_masked_the_explanation_stays() {
        assert_eq!(
            redact_message("The API key is missing or invalid."),
            "The API key is missing or invalid."
        );
        assert_eq!(
            redact_message("Employee jane.doe@acme.example was not found."),
            "Employee [email] was not found."
        );
        assert_eq!(
            redact_message("Field first_name has invalid value 'Jane Mary Doe' (too long)."),
            "Field first_name has invalid value [value] (too long)."
        );
        assert_eq!(redact_message("Unknown \"Müller\"."), "Unknown [value].");
        assert_eq!(
            redact_message("The token of 'Jane Doe' (jane.doe@acme.example) was revoked."),
            "The token of [value] ([email]) was revoked."
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "word ".repeat(400);
        let cut = redact_message(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
