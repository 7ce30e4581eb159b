//! The verified SNOMED CT body-site list (`snomed-body-sites.csv`, from the
//! product's reference set). Its terms are the `display` values sent to ALEX.

use std::sync::OnceLock;

use super::Laterality;

const CSV: &str = include_str!("snomed-body-sites.csv");

/// One body-site concept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySite {
    pub code: String,
    pub term: String,
    /// The concept already names a side (e.g. "Left ear structure").
    pub lateralised: bool,
}

/// Splits one CSV line, honouring double-quoted fields.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Every body-site concept, in the file's order.
pub fn body_sites() -> &'static [BodySite] {
    static SITES: OnceLock<Vec<BodySite>> = OnceLock::new();
    SITES.get_or_init(|| {
        CSV.lines()
            .skip(1)
            .map(fields)
            .filter(|f| f.len() >= 4 && f[2] == "body_site")
            .map(|f| BodySite { code: f[0].clone(), term: f[1].clone(), lateralised: f[3] == "yes" })
            .collect()
    })
}

/// The concept with this code, if it is on the verified list.
pub fn body_site(code: &str) -> Option<&'static BodySite> {
    body_sites().iter().find(|s| s.code == code)
}

/// Body sites whose term contains `query` (case-insensitive), at most
/// `limit`; nothing for a query under two characters.
pub fn search_body_sites(query: &str, limit: usize) -> Vec<&'static BodySite> {
    let q = query.trim().to_lowercase();
    if q.chars().count() < 2 {
        return Vec::new();
    }
    body_sites().iter().filter(|s| s.term.to_lowercase().contains(&q)).take(limit).collect()
}

/// A body site's everyday name for buttons and lists ("Face structure" →
/// "Face"); the full term is what ALEX receives.
pub fn site_label(term: &str) -> String {
    let plain = term.replace("Structure of ", "").replace(" structure", "");
    let mut chars = plain.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A term's words without side and filler words, to pair a site with its lateralised concept.
fn core_words(term: &str) -> Vec<String> {
    let mut words: Vec<String> = term
        .to_lowercase()
        .split_whitespace()
        .filter(|w| !matches!(*w, "left" | "right" | "structure" | "of"))
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

/// The pre-lateralised concept for a site and side, if the verified list has one.
pub fn lateralised(site: &BodySite, side: Laterality) -> Option<&'static BodySite> {
    let word = match side {
        Laterality::Left => "left",
        Laterality::Right => "right",
        _ => return None,
    };
    let core = core_words(&site.term);
    body_sites().iter().find(|s| {
        s.lateralised
            && s.term.to_lowercase().split_whitespace().any(|w| w == word)
            && core_words(&s.term) == core
    })
}

/// A site and side as one comparable pair: a pre-lateralised concept
/// ("Left ear structure") becomes its unlateralised site and its side, so a
/// photo coded either way matches the other.
pub fn site_and_side(code: &str, side: Option<Laterality>) -> (String, Option<Laterality>) {
    let Some(site) = body_site(code).filter(|s| s.lateralised) else {
        return (code.to_owned(), side);
    };
    let words = site.term.to_lowercase();
    let named = if words.split_whitespace().any(|w| w == "left") {
        Laterality::Left
    } else if words.split_whitespace().any(|w| w == "right") {
        Laterality::Right
    } else {
        return (code.to_owned(), side);
    };
    let core = core_words(&site.term);
    match body_sites().iter().find(|s| !s.lateralised && core_words(&s.term) == core) {
        Some(base) => (base.code.clone(), Some(named)),
        None => (code.to_owned(), Some(named)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_matches_terms_case_insensitively() {
        let hits: Vec<&str> = search_body_sites("FOREARM", 5).iter().map(|s| s.code.as_str()).collect();
        assert_eq!(hits, ["14975008"]);
        assert!(search_body_sites("a", 5).is_empty(), "one letter is too little to search on");
        assert_eq!(search_body_sites("structure", 3).len(), 3, "limited");
    }

    #[test]
    fn body_site_labels_read_naturally() {
        assert_eq!(site_label("Face structure"), "Face");
        assert_eq!(site_label("Structure of back of trunk"), "Back of trunk");
        assert_eq!(site_label("Skin structure of hand"), "Skin of hand");
        assert_eq!(site_label("Abdomen"), "Abdomen");
    }

    #[test]
    fn loads_the_verified_list() {
        assert!(body_sites().len() >= 60);
        assert_eq!(body_site("41695006").unwrap().term, "Scalp structure");
        assert_eq!(body_site("14975008").unwrap().term, "Forearm structure");
        assert!(body_site("89644007").unwrap().lateralised);
        // Qualifiers are not body sites.
        assert!(body_site("7771000").is_none());
        assert!(body_site("373067005").is_none());
    }

    #[test]
    fn known_seed_errors_stay_correct() {
        assert_eq!(body_site("43799004").unwrap().term, "Thoracic cavity structure");
        assert_eq!(body_site("40983000").unwrap().term, "Upper arm structure");
        assert_eq!(body_site("85562004").unwrap().term, "Hand structure");
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(fields(r#"1,"a, b",c"#), vec!["1", "a, b", "c"]);
    }
}
