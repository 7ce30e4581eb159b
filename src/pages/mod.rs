//! The pages, one module each. Shared by both builds: rendered on the server,
//! hydrated in the browser.

mod desktop;
mod landing;
mod mobile;
mod not_found;
mod widgets;

pub use self::desktop::DesktopPage;
pub use self::landing::LandingPage;
pub use self::mobile::MobilePage;
pub use self::not_found::NotFound;
