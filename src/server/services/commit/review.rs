//! What the GP confirmed in the commit dialog: each photo at the revision
//! it showed. A photo changed since is not filed.

/// The photos a GP confirmed, each at the revision the commit dialog showed
/// ([`crate::model::ImageInfo::revision`]).
pub type Confirmed = std::collections::HashMap<String, String>;

/// What the request says the GP confirmed of one photo.
#[derive(Clone, Copy)]
pub(super) enum Review<'a> {
    /// The request named no revisions (an API caller without the dialog).
    NotAsked,
    /// The GP confirmed this revision.
    Confirmed(&'a str),
    /// The request confirmed others, not this one: it is not filed.
    NotConfirmed,
}

impl<'a> Review<'a> {
    pub(super) fn of(confirmed: Option<&'a Confirmed>, image_id: &str) -> Self {
        match confirmed.map(|c| c.get(image_id)) {
            None => Review::NotAsked,
            Some(Some(revision)) => Review::Confirmed(revision),
            Some(None) => Review::NotConfirmed,
        }
    }

    /// Whether a photo now at `current` may be filed.
    pub(super) fn allows(self, current: &str) -> bool {
        match self {
            Review::NotAsked => true,
            Review::Confirmed(revision) => revision == current,
            Review::NotConfirmed => false,
        }
    }
}
