//! The shell every page shares: the document, its landmarks (WCAG: `lang`, a unique title, a
//! skip link, one `main`), the stylesheet, and the live regions that announce what a script did.

use maud::{DOCTYPE, Markup, html};

use crate::assets::{Asset, STYLESHEET};

/// A whole HTML document around `main`. `header` is the page's banner (navigation for staff,
/// the clinic's name on a public form); `scripts` load deferred, in order.
pub fn document(title: &str, header: Markup, main: Markup, scripts: &[&Asset]) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Opportunities" }
                link rel="stylesheet" href=(STYLESHEET.url());
                @for script in scripts {
                    script src=(script.url()) defer {}
                }
            }
            body {
                a.skip-link href="#main" { "Skip to content" }
                (header)
                main #main tabindex="-1" { (main) }
                div #announce-polite.visually-hidden aria-live="polite" {}
                div #announce-assertive.visually-hidden aria-live="assertive" {}
            }
        }
    }
}
