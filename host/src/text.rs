//! Text for people: quoting what a user, an agent or a stage handed baton, in an
//! error or a log line, briefly (a hostile or huge input is never echoed whole); and
//! a stored document as a markdown block.

/// The longest quote, in characters.
pub const SHORT: usize = 60;

/// `text` cut to [`SHORT`] characters, with `…` where it was cut.
pub fn short(text: &str) -> String {
    match text.char_indices().nth(SHORT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// The last `lines` non-empty lines of `text`, at most `max_bytes` of them (cut on a
/// character boundary from the front): what a person reads of an agent's output.
pub fn last_lines(text: &str, lines: usize, max_bytes: usize) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = kept[kept.len().saturating_sub(lines)..].join("\n");
    match tail.len() > max_bytes {
        false => tail,
        true => {
            let mut cut = tail.len() - max_bytes;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            format!("…{}", &tail[cut..])
        }
    }
}

/// A stored document in markdown for a prompt or a person: a heading naming its key,
/// namespace and revision, then the document in a JSON code block.
pub fn json_block(ns: &str, key: &str, revision: Option<u64>, value: &serde_json::Value) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    let revision = revision.map_or_else(String::new, |r| format!(", revision {r}"));
    format!("## `{key}` (namespace `{ns}`{revision})\n\n```json\n{pretty}\n```\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_lines_are_kept_within_their_bound() {
        let text = "one\n\ntwo\nthree\nfour\n";
        assert_eq!(last_lines(text, 2, 100), "three\nfour");
        assert_eq!(last_lines(text, 10, 100), "one\ntwo\nthree\nfour");
        let wide = "é".repeat(50);
        let cut = last_lines(&wide, 5, 11);
        assert!(
            cut.starts_with('…') && cut.len() <= 11 + '…'.len_utf8(),
            "{cut}"
        );
        assert_eq!(last_lines("", 3, 10), "");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_short_text_kept() {
        assert_eq!(short("slos"), "slos");
        let long = "é".repeat(100);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), SHORT + 1);
        assert!(cut.ends_with('…'));
    }
}
