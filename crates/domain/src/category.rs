use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::non_null;
use crate::{Error, FieldErrors, Patch, Result, Timestamp, text};

pub const NAME_MAX: usize = 100;
pub const DEFAULT_COLOR: &str = "#6b7280";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// `#rrggbb`, lowercase.
    pub color: String,
    pub sort_order: i32,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategory {
    #[schema(value_type = String, required = true, min_length = 1)]
    pub name: Option<String>,
    /// `#rrggbb`; defaults to a neutral grey.
    #[schema(pattern = "^\\s*#[0-9a-fA-F]{6}\\s*$")]
    pub color: Option<String>,
    pub sort_order: Option<i32>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategory {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub name: Patch<String>,
    /// `#rrggbb`; `null` resets it to the default grey.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^\\s*#[0-9a-fA-F]{6}\\s*$")]
    pub color: Patch<String>,
    #[serde(default)]
    #[schema(value_type = i32)]
    pub sort_order: Patch<i32>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub is_active: Patch<bool>,
}

impl Category {
    pub fn new(org_id: Uuid, input: CreateCategory, now: Timestamp) -> Result<Category> {
        let mut errors = FieldErrors::default();
        let category = Category {
            id: Uuid::now_v7(),
            org_id,
            name: text::required(&mut errors, "name", input.name, NAME_MAX),
            color: input.color.map_or(Some(DEFAULT_COLOR.to_owned()), |c| color(&mut errors, c)).unwrap_or_default(),
            sort_order: input.sort_order.unwrap_or(0),
            is_active: input.is_active.unwrap_or(true),
            created_at: now,
            updated_at: now,
        };
        errors.into_result(category)
    }

    pub fn updated(&self, input: UpdateCategory, now: Timestamp) -> Result<Category> {
        let mut errors = FieldErrors::default();
        let mut category = self.clone();
        match input.name {
            Patch::Absent => {}
            Patch::Null => errors.add("name", "cannot be null"),
            Patch::Value(name) => category.name = text::required(&mut errors, "name", Some(name), NAME_MAX),
        }
        match input.color {
            Patch::Absent => {}
            Patch::Null => category.color = DEFAULT_COLOR.to_owned(),
            Patch::Value(value) => category.color = color(&mut errors, value).unwrap_or_default(),
        }
        category.sort_order = non_null(&mut errors, "sort_order", input.sort_order, category.sort_order);
        category.is_active = non_null(&mut errors, "is_active", input.is_active, category.is_active);
        if category != *self {
            category.updated_at = now;
        }
        errors.into_result(category)
    }

    pub fn name_key(&self) -> String {
        text::name_key(&self.name)
    }
}

/// Which way a category moves in the order every list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// The categories whose place changes when `id` moves one step in `ordered` (every category of
/// the organization, as lists show them). All are numbered 1, 2, 3… in their new order: the
/// API's default `sort_order` is 0 for all, and swapping two equal numbers would move nothing.
/// Moving the first up or the last down changes nothing.
pub fn moved(ordered: &[Category], id: Uuid, direction: Direction, now: Timestamp) -> Result<Vec<Category>> {
    let at = ordered.iter().position(|category| category.id == id).ok_or(Error::NotFound("category"))?;
    let mut order: Vec<&Category> = ordered.iter().collect();
    match direction {
        Direction::Up if at > 0 => order.swap(at, at - 1),
        Direction::Down if at + 1 < order.len() => order.swap(at, at + 1),
        _ => return Ok(vec![]),
    }
    Ok((1..)
        .zip(order)
        .filter(|(position, category)| category.sort_order != *position)
        .map(|(position, category)| Category { sort_order: position, updated_at: now, ..category.clone() })
        .collect())
}

fn color(errors: &mut FieldErrors, value: String) -> Option<String> {
    let value = value.trim().to_lowercase();
    let valid = value.len() == 7 && value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        errors.add("color", "must be a hex colour such as #10b981");
        return None;
    }
    Some(value)
}

/// The category as embedded in an opportunity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CategoryRef {
    pub id: Uuid,
    pub name: String,
    pub color: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_checked_and_default_to_grey() {
        let ok = Category::new(Uuid::nil(), CreateCategory { name: Some("Botox".into()), ..Default::default() }, Timestamp::now());
        assert_eq!(ok.unwrap().color, DEFAULT_COLOR);
        let bad = CreateCategory { name: Some("Botox".into()), color: Some("green".into()), ..Default::default() };
        assert!(Category::new(Uuid::nil(), bad, Timestamp::now()).is_err());
    }

    #[test]
    fn moving_swaps_neighbours_and_numbers_everyone_in_order() {
        let named = |name: &str| {
            Category::new(Uuid::nil(), CreateCategory { name: Some(name.into()), ..Default::default() }, Timestamp::now()).unwrap()
        };
        let ordered = [named("Botox"), named("Fillers"), named("Facials")];
        let now = Timestamp::now();
        let orders = |moved: Vec<Category>| moved.into_iter().map(|c| (c.name, c.sort_order)).collect::<Vec<_>>();
        let down = moved(&ordered, ordered[0].id, Direction::Down, now).unwrap();
        assert_eq!(orders(down), [("Fillers".to_owned(), 1), ("Botox".to_owned(), 2), ("Facials".to_owned(), 3)]);
        assert!(moved(&ordered, ordered[0].id, Direction::Up, now).unwrap().is_empty(), "the first stays first");
        assert!(moved(&ordered, ordered[2].id, Direction::Down, now).unwrap().is_empty(), "the last stays last");
        let numbered: Vec<Category> = ordered.iter().zip(1..).map(|(c, sort_order)| Category { sort_order, ..c.clone() }).collect();
        let up = moved(&numbered, numbered[2].id, Direction::Up, now).unwrap();
        assert_eq!(orders(up), [("Facials".to_owned(), 2), ("Fillers".to_owned(), 3)], "only the changed places are saved");
        assert!(matches!(moved(&ordered, Uuid::nil(), Direction::Up, now), Err(Error::NotFound(_))));
    }
}
