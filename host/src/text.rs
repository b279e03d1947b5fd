//! Quoting what a user, an agent or a stage handed baton, in an error or a log line:
//! briefly, so that a hostile or huge input is never echoed whole.

/// The longest quote, in characters.
pub const SHORT: usize = 60;

/// `text` cut to [`SHORT`] characters, with `…` where it was cut.
pub fn short(text: &str) -> String {
    match text.char_indices().nth(SHORT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_short_text_kept() {
        assert_eq!(short("slos"), "slos");
        let long = "é".repeat(100);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), SHORT + 1);
        assert!(cut.ends_with('…'));
    }
}
