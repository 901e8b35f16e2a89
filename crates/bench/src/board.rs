//! `board`: how long the web UI's board takes to render for a seeded organization. Serves the
//! real router (API and pages) in-process on the seeded database, signs the measured owner in
//! (a reset link and a password, as a browser would), and times `GET /board` with a few
//! filters, one request at a time: the time a person waits for the page.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use domain::session::{LinkPurpose, PublicUrl};
use store::{OpenOptions, Store, sign_in, tokens};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The boards measured: the owner's default (everyone's leads), a member-sized one (one
/// category), a search, and a source.
const VIEWS: [(&str, &str); 4] =
    [("everyone", ""), ("one source", "?assigned_to=&source=website"), ("search", "?assigned_to=&search=botox"), ("default", "?")];

pub async fn board(database: &str, token: &str, repeat: usize) -> Result<(), String> {
    let store = store::open(database, &OpenOptions::default()).await.map_err(|e| e.describe())?;
    let actor = store.authenticate(&tokens::hash(token)).await.map_err(|e| e.describe())?.ok_or("no staff member holds --token")?;
    let link =
        sign_in::create_password_link(store.as_ref(), actor.org_id, actor.staff_id, LinkPurpose::Reset).await.map_err(|e| e.describe())?;
    let session = sign_in::set_password(store.as_ref(), &link.secret, "benchmark password".into()).await.map_err(|e| e.describe())?;
    let address = serve(store).await?;
    println!("| board | requests | median ms | p95 ms | max ms | HTML bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, query) in VIEWS {
        let path = format!("/board{query}");
        get(&address, &path, &session.secret).await?;
        let mut times = Vec::with_capacity(repeat);
        let mut bytes = 0;
        for _ in 0..repeat {
            let started = Instant::now();
            bytes = get(&address, &path, &session.secret).await?;
            times.push(started.elapsed());
        }
        times.sort();
        let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
        println!("| {name} | {repeat} | {:.1} | {:.1} | {:.1} | {bytes} |", at(0.5), at(0.95), at(1.0));
    }
    Ok(())
}

async fn serve(store: Arc<dyn Store>) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let public_url = PublicUrl::parse(&format!("http://{address}")).ok_or("no URL for the address")?;
    let pages = web::router(store.clone(), web::WebConfig { public_url: public_url.clone(), secure_cookies: false });
    let router = api::router_with(store, api::AppOptions { pages, ..Default::default() }).layer(Extension(public_url));
    tokio::spawn(api::serve(listener, router, api::ServeLimits::default(), std::future::pending()));
    Ok(address)
}

/// One `GET` on a new connection, read to its end; the body's length.
async fn get(address: &str, path: &str, session: &str) -> Result<usize, String> {
    let mut stream = TcpStream::connect(address).await.map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: opp_session={session}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|e| e.to_string())?;
    if !response.starts_with(b"HTTP/1.1 200") {
        let head = String::from_utf8_lossy(&response[..response.len().min(200)]).into_owned();
        return Err(format!("GET {path} answered {head}"));
    }
    let body_start = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |at| at + 4);
    Ok(response.len() - body_start)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
