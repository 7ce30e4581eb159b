//! A patient's earlier clinical photos, as the desktop shows them beside
//! today's: read from ALEX by the server, grouped by site and side here.

use serde::{Deserialize, Serialize};

use super::{site_and_side, Laterality};

/// One earlier photo of this patient, as ALEX holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarlierPhoto {
    pub resource_id: String,
    /// `Media`, or `DocumentReference` (a scan filed as a photograph).
    pub resource_type: String,
    /// When it was taken or filed (RFC 3339), if the record says.
    pub date: Option<String>,
    /// The SNOMED code of the body site, if coded.
    pub body_site: Option<String>,
    pub laterality: Option<Laterality>,
    /// The site in words, as filed ("Left forearm").
    pub site_text: Option<String>,
    pub description: Option<String>,
    /// A small copy, made on the server; a signed URL valid for minutes.
    /// `None` when the photo could not be read or is not a picture.
    pub thumbnail_url: Option<String>,
}

impl EarlierPhoto {
    /// The site and side as one comparable key (see [`site_and_side`]).
    pub fn site_key(&self) -> Option<SiteKey> {
        match (&self.body_site, &self.site_text) {
            (Some(code), _) => Some(site_and_side(code, self.laterality)),
            (None, Some(text)) => Some((text.to_lowercase(), self.laterality)),
            (None, None) => None,
        }
    }
}

/// What the phone shows for "Retake like last time": the earlier photo as
/// a guide over the live camera, and the site and side the new photo gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetakeGuide {
    /// The earlier photo; a signed URL that works for two minutes.
    pub url: String,
    pub date: Option<String>,
    pub body_site: Option<String>,
    pub laterality: Option<Laterality>,
    pub site_text: Option<String>,
}

/// A site and side, comparable (see [`site_and_side`]).
type SiteKey = (String, Option<Laterality>);

/// Earlier photos of one site and side, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierGroup {
    /// "Left forearm", or "No body site recorded".
    pub label: String,
    /// The group is the selected photo's site and side.
    pub matches_selected: bool,
    pub photos: Vec<EarlierPhoto>,
}

/// Groups photos (given newest first) by site and side. The group of the
/// selected photo's site and side comes first; the rest follow by their
/// newest photo, and photos with no site last.
pub fn group_earlier(
    photos: &[EarlierPhoto],
    selected: Option<(&str, Option<Laterality>)>,
) -> Vec<EarlierGroup> {
    let wanted = selected.map(|(code, side)| site_and_side(code, side));
    let mut groups: Vec<(Option<SiteKey>, EarlierGroup)> = Vec::new();
    for photo in photos {
        let key = photo.site_key();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.photos.push(photo.clone()),
            None => {
                let label = photo.site_text.clone().unwrap_or_else(|| "No body site recorded".to_owned());
                let matches_selected = key.is_some() && key == wanted;
                groups.push((key, EarlierGroup { label, matches_selected, photos: vec![photo.clone()] }));
            }
        }
    }
    // Stable: within each class, the order of first appearance (newest first).
    groups.sort_by_key(|(key, group)| (!group.matches_selected, key.is_none()));
    groups.into_iter().map(|(_, g)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(id: &str, date: &str, site: Option<&str>, side: Option<Laterality>, text: &str) -> EarlierPhoto {
        EarlierPhoto {
            resource_id: id.into(),
            resource_type: "Media".into(),
            date: Some(date.into()),
            body_site: site.map(Into::into),
            laterality: side,
            site_text: (!text.is_empty()).then(|| text.into()),
            description: None,
            thumbnail_url: None,
        }
    }

    #[test]
    fn groups_by_site_and_side_with_the_selected_photos_first() {
        use Laterality::*;
        let photos = [
            photo("a", "2026-11-20", Some("72696002"), Some(Right), "Right knee region"),
            photo("b", "2026-10-01", None, None, ""),
            photo("c", "2026-06-01", Some("14975008"), Some(Left), "Left forearm"),
            photo("d", "2026-03-01", Some("14975008"), Some(Right), "Right forearm"),
            photo("e", "2025-12-20", Some("14975008"), Some(Left), "Left forearm"),
        ];
        let groups = group_earlier(&photos, Some(("14975008", Some(Left))));
        let shape: Vec<(&str, bool, Vec<&str>)> = groups
            .iter()
            .map(|g| {
                (
                    g.label.as_str(),
                    g.matches_selected,
                    g.photos.iter().map(|p| p.resource_id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("Left forearm", true, vec!["c", "e"]),
                ("Right knee region", false, vec!["a"]),
                ("Right forearm", false, vec!["d"]),
                ("No body site recorded", false, vec!["b"]),
            ]
        );
        // Nothing selected: newest first, no site last.
        let plain = group_earlier(&photos, None);
        assert_eq!(plain.iter().map(|g| g.label.as_str()).collect::<Vec<_>>()[0], "Right knee region");
        assert!(plain.iter().all(|g| !g.matches_selected));
    }

    #[test]
    fn a_pre_lateralised_code_matches_the_site_with_its_side() {
        // "Left ear structure" filed; today's photo is "Ear structure", left.
        let filed = photo("a", "2026-01-01", Some("89644007"), None, "Left ear");
        let groups = group_earlier(&[filed], Some(("117590005", Some(Laterality::Left))));
        assert!(groups[0].matches_selected);
        let groups = group_earlier(&groups[0].photos, Some(("117590005", Some(Laterality::Right))));
        assert!(!groups[0].matches_selected);
    }
}
