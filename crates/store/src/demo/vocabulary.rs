//! Plausible med-spa pipeline data: treatments, names, sources, statuses and the texts that
//! mention them, for the demo and for the benchmark's seed and scenarios.

use domain::opportunity::Status;

use super::rng::Rng;

/// Category names with their colours (the UI brief's presets, each at least 4.3:1 on white);
/// treatments point into this list.
pub const CATEGORIES: [(&str, &str); 6] = [
    ("Botox", "#a0329f"),
    ("Fillers", "#4f46c8"),
    ("Laser hair removal", "#b45309"),
    ("Facials", "#0f8a5f"),
    ("Body contouring", "#c2334d"),
    ("Consultations", "#56606e"),
];

/// (name, category index), weighted by how often leads ask for them.
pub const TREATMENTS: [((&str, usize), u32); 12] = [
    (("Botox", 0), 18),
    (("Dermal Filler", 1), 10),
    (("Lip Filler", 1), 6),
    (("Laser Hair Removal", 2), 9),
    (("Underarm Laser", 2), 4),
    (("HydraFacial", 3), 10),
    (("Chemical Peel", 3), 7),
    (("Microneedling", 3), 5),
    (("CoolSculpting", 4), 6),
    (("Skin Tightening", 4), 4),
    (("Skin Consultation", 5), 9),
    (("Consultation", 5), 10),
];

pub const SOURCES: [(&str, u32); 7] =
    [("website", 35), ("referral", 20), ("walk_in", 8), ("phone", 15), ("social", 12), ("event", 6), ("other", 4)];

pub const STATUSES: [(Status, u32); 7] = [
    (Status::Open, 22),
    (Status::Contacted, 16),
    (Status::Qualified, 12),
    (Status::Proposal, 8),
    (Status::Won, 18),
    (Status::Lost, 16),
    (Status::Stale, 8),
];

pub const FIRST_NAMES: [&str; 32] = [
    "Jane",
    "Maria",
    "Olivia",
    "Emma",
    "Sophia",
    "Ava",
    "Isabella",
    "Mia",
    "Charlotte",
    "Amelia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Emily",
    "Ella",
    "Grace",
    "Chloe",
    "Camila",
    "Priya",
    "Aisha",
    "Mei",
    "Yuki",
    "Lucia",
    "Fatima",
    "Michael",
    "James",
    "David",
    "Daniel",
    "Carlos",
    "Ahmed",
    "Noah",
    "Liam",
];

pub const LAST_NAMES: [&str; 32] = [
    "Doe",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Patel",
    "Nguyen",
    "Kim",
    "Chen",
];

const DESCRIPTION_TAILS: [&str; 10] = [
    "First visit.",
    "Asked about pricing and availability.",
    "Returning client, wants a package deal.",
    "Prefers weekday evenings.",
    "Saw our promotion on Instagram.",
    "Wants to combine it with {t2}.",
    "Referred by a friend who had {t2}.",
    "Asked whether {t2} can be done the same day.",
    "Has an event next month and wants results before then.",
    "Comparing us with two other clinics.",
];

const NOTE_TEXTS: [&str; 10] = [
    "Prefers appointments after 5pm.",
    "Check for a lidocaine allergy before {t}.",
    "Asked about financing options for {t}.",
    "Budget is flexible if results are good.",
    "Came in with a friend; both interested in {t}.",
    "Wants results before a wedding in the spring.",
    "Had {t2} elsewhere last year, was not happy with it.",
    "Sent the before/after gallery for {t}.",
    "Do not call at work; text first.",
    "Interested in the membership discount on {t}.",
];

const CALL_OUTCOMES: [&str; 5] =
    ["Left voicemail", "Booked a consultation", "Asked to call back next week", "No answer", "Sent pricing afterwards"];
const LOST_REASONS: [&str; 5] = ["Price", "Chose another clinic", "No response after three attempts", "Moved away", "Not a candidate"];

pub fn treatment(rng: &mut Rng) -> (&'static str, usize) {
    *rng.weighted(&TREATMENTS)
}

pub fn person(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES))
}

pub fn title(rng: &mut Rng, source: Option<&str>, treatment: &str, name: &str) -> String {
    if rng.chance(0.15) {
        let first = name.split(' ').next().unwrap_or(name);
        return format!("{treatment} package for {first}");
    }
    let prefix = match source {
        Some("website") => "Website Inquiry",
        Some("referral") => "Referral",
        Some("walk_in") => "Walk-in",
        Some("phone") => "Phone Inquiry",
        Some("social") => "Instagram DM",
        Some("event") => "Open House Lead",
        _ => return format!("{treatment} inquiry"),
    };
    format!("{prefix} - {treatment}")
}

pub fn description(rng: &mut Rng, treatment: &str) -> String {
    let other = self::treatment(rng).0;
    let tail = rng.pick(&DESCRIPTION_TAILS).replace("{t2}", other);
    format!("Interested in {treatment}. {tail}")
}

pub fn note_text(rng: &mut Rng, treatment: &str) -> String {
    let other = self::treatment(rng).0;
    rng.pick(&NOTE_TEXTS).replace("{t2}", other).replace("{t}", treatment)
}

pub fn call_outcome(rng: &mut Rng) -> &'static str {
    CALL_OUTCOMES[rng.below(CALL_OUTCOMES.len() as u64) as usize]
}

pub fn lost_reason(rng: &mut Rng) -> &'static str {
    LOST_REASONS[rng.below(LOST_REASONS.len() as u64) as usize]
}

pub fn phone(rng: &mut Rng) -> String {
    format!("+1555{:07}", rng.below(10_000_000))
}

/// An amount between $50 and $5,000, more often small (log-uniform), in $5 steps, in cents.
pub fn value_cents(rng: &mut Rng) -> i64 {
    let dollars = 50.0 * (rng.unit() * 100f64.ln()).exp();
    ((dollars / 5.0).round() as i64).clamp(10, 1000) * 500
}

pub fn probability(rng: &mut Rng, status: Status) -> i32 {
    match status {
        Status::Open => 10,
        Status::Contacted => 20 + 5 * rng.range(0, 2) as i32,
        Status::Qualified => 40 + 5 * rng.range(0, 6) as i32,
        Status::Proposal => 60 + 5 * rng.range(0, 6) as i32,
        Status::Won => 100,
        Status::Lost => 0,
        Status::Stale => 5 + 5 * rng.range(0, 2) as i32,
    }
}
