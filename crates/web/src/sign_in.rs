//! Signing in and out, and choosing a password from a set-up, invitation or reset link.

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use domain::Error;
use domain::session::{PASSWORD_MIN_CHARS, WebSession};
use maud::{Markup, html};
use serde::Deserialize;
use store::sign_in::{self, NewSession};

use crate::WebState;
use crate::layout::document;
use crate::pages::{error_page, message_page, sentence};
use crate::session::{COOKIE, CheckedForm, SignedIn, client_address, removal_cookie, same_origin, session_cookie};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(start))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/setup/{secret}", get(setup_page).post(setup))
        .route("/sign-out", post(sign_out))
}

/// The agenda for staff (what they have to do today), the sign-in page for everyone else.
async fn start(signed_in: Result<SignedIn, Response>) -> Redirect {
    Redirect::to(if signed_in.is_ok() { "/agenda" } else { "/sign-in" })
}

/// The one answer for an unknown e-mail and a wrong password alike.
const NOT_SIGNED_IN: &str = "That e-mail and password do not match an account. Check both and try again.";

async fn sign_in_page(signed_in: Result<SignedIn, Response>) -> Response {
    if signed_in.is_ok() {
        return Redirect::to("/agenda").into_response();
    }
    sign_in_form("", None).into_response()
}

fn sign_in_form(email: &str, error: Option<&str>) -> Markup {
    let main = html! {
        div.narrow.panel {
            h1 { "Sign in" }
            @if let Some(error) = error {
                div.error-summary #sign-in-error role="alert" { (error) }
            }
            form method="post" action="/sign-in" {
                div.field {
                    label for="email" { "E-mail" }
                    input #email type="email" name="email" autocomplete="username" required value=(email)
                        aria-describedby=[error.map(|_| "sign-in-error")];
                }
                div.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                }
                button.primary type="submit" { "Sign in" }
            }
            p.small.muted { "Forgot your password? Ask an owner or admin of your clinic for a new link." }
        }
    };
    document("Sign in", public_banner(), main, &[])
}

fn public_banner() -> Markup {
    html! { header.banner { a.brand href="/" { "Opportunities" } } }
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

async fn sign_in(State(state): State<WebState>, parts: Parts, jar: CookieJar, Form(credentials): Form<Credentials>) -> Response {
    if !same_origin(&parts.headers, &state) {
        return (StatusCode::FORBIDDEN, message_page("Form refused", "This form came from another site.")).into_response();
    }
    if !state.sign_in_limits.allow(&credentials.email, client_address(&parts.extensions)) {
        let page = sign_in_form(&credentials.email, Some("Too many sign-in attempts. Wait a minute, then try again."));
        return (StatusCode::TOO_MANY_REQUESTS, page).into_response();
    }
    match sign_in::sign_in(state.store.as_ref(), &credentials.email, credentials.password).await {
        Ok(Some(new)) => signed_in(&state, jar, new),
        Ok(None) => (StatusCode::UNAUTHORIZED, sign_in_form(&credentials.email, Some(NOT_SIGNED_IN))).into_response(),
        Err(error) => error_page(&error),
    }
}

/// Sets the new session's cookie and opens the agenda.
fn signed_in(state: &WebState, jar: CookieJar, new: NewSession) -> Response {
    (jar.add(session_cookie(state, new.secret)), Redirect::to("/agenda")).into_response()
}

async fn setup_page(Path(secret): Path<String>) -> Markup {
    setup_form(&secret, None)
}

fn setup_form(secret: &str, error: Option<&str>) -> Markup {
    let hint = format!("At least {PASSWORD_MIN_CHARS} characters. A few unrelated words make a good one.");
    let main = html! {
        div.narrow.panel {
            h1 { "Choose your password" }
            form method="post" action={ "/setup/" (secret) } {
                div.field {
                    label for="password" { "New password" }
                    input #password type="password" name="password" autocomplete="new-password" required
                        minlength=(PASSWORD_MIN_CHARS) aria-invalid=[error.map(|_| "true")]
                        aria-describedby={ "password-hint" @if error.is_some() { " password-error" } };
                    div.hint #password-hint { (hint) }
                    @if let Some(error) = error {
                        div.error #password-error { (error) }
                    }
                }
                button.primary type="submit" { "Save and sign in" }
            }
        }
    };
    document("Choose your password", public_banner(), main, &[])
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

/// The link's secret is the proof here (there is no session yet); the `Origin` check keeps
/// another site from posting a password of its choosing with a link it somehow holds.
async fn setup(
    State(state): State<WebState>,
    Path(secret): Path<String>,
    parts: Parts,
    jar: CookieJar,
    Form(form): Form<NewPassword>,
) -> Response {
    if !same_origin(&parts.headers, &state) {
        return (StatusCode::FORBIDDEN, message_page("Form refused", "This form came from another site.")).into_response();
    }
    match sign_in::set_password(state.store.as_ref(), &secret, form.password).await {
        Ok(new) => signed_in(&state, jar, new),
        Err(Error::Validation(errors)) => {
            let message = errors.iter().map(|(_, message)| sentence(&format!("The password {message}"))).collect::<Vec<_>>().join(" ");
            (StatusCode::UNPROCESSABLE_ENTITY, setup_form(&secret, Some(&message))).into_response()
        }
        Err(Error::Conflict(message)) => (StatusCode::GONE, message_page("Link no longer valid", &sentence(&message))).into_response(),
        Err(error) => error_page(&error),
    }
}

async fn sign_out(State(state): State<WebState>, jar: CookieJar, CheckedForm { session, .. }: CheckedForm<Empty>) -> Response {
    let _: &WebSession = &session;
    if let Some(cookie) = jar.get(COOKIE)
        && let Err(error) = sign_in::sign_out(state.store.as_ref(), cookie.value()).await
    {
        return error_page(&error);
    }
    (jar.add(removal_cookie(&state)), Redirect::to("/sign-in")).into_response()
}

/// A form with no fields but its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}
