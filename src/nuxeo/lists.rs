//! Nuxeo's list entities: `workflows` and `tasks` lists, with the pagination fields of
//! Nuxeo's paginated lists, and the paging parameters of `GET /task`.

use flowgate_core::Page;
use serde::Serialize;
use utoipa::ToSchema;

/// `{"entity-type":"workflows"|"tasks", [pagination], "entries":[…]}`
#[derive(Serialize)]
pub struct ListEntity<T: Serialize> {
    #[serde(rename = "entity-type")]
    entity_type: &'static str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    entries: Vec<T>,
}

impl<T: Serialize> ListEntity<T> {
    /// A `workflows` list.
    pub fn workflows(entries: Vec<T>) -> Self {
        Self {
            entity_type: "workflows",
            pagination: None,
            entries,
        }
    }

    /// A non-paginated `tasks` list.
    pub fn tasks(entries: Vec<T>) -> Self {
        Self {
            entity_type: "tasks",
            pagination: None,
            entries,
        }
    }

    /// A paginated `workflows` list (an answer longer than one page).
    pub fn paginated_workflows(entries: Vec<T>, p: Pagination) -> Self {
        Self {
            entity_type: "workflows",
            pagination: Some(p),
            entries,
        }
    }

    /// A paginated `tasks` list.
    pub fn paginated_tasks(entries: Vec<T>, p: Pagination) -> Self {
        Self {
            entity_type: "tasks",
            pagination: Some(p),
            entries,
        }
    }
}

/// Pagination fields of a paginated list, in Nuxeo's order.
#[derive(Serialize, Debug, Clone, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    is_paginable: bool,
    results_count: usize,
    page_size: usize,
    max_page_size: usize,
    results_count_limit: i64,
    current_page_size: usize,
    current_page_index: usize,
    current_page_offset: usize,
    number_of_pages: usize,
    is_previous_page_available: bool,
    is_next_page_available: bool,
    is_last_page_available: bool,
    is_sortable: bool,
    has_error: bool,
    error_message: Option<String>,
    page_index: usize,
    page_count: usize,
}

/// Largest page a client may ask for, before `limits.max_page_size` lowers it.
pub const MAX_PAGE_SIZE: usize = 1000;

impl Pagination {
    /// Pagination of a page taken at `offset` with `page_size`, `current` items on it
    /// out of `total`.
    pub fn new(total: usize, page_size: usize, offset: usize, current: usize) -> Self {
        let page_size = page_size.max(1);
        let index = offset / page_size;
        let pages = total.div_ceil(page_size);
        Self {
            is_paginable: true,
            results_count: total,
            page_size,
            max_page_size: MAX_PAGE_SIZE,
            results_count_limit: -1,
            current_page_size: current,
            current_page_index: index,
            current_page_offset: offset,
            number_of_pages: pages,
            is_previous_page_available: offset > 0,
            is_next_page_available: offset + current < total,
            is_last_page_available: pages > 0 && index + 1 < pages,
            is_sortable: true,
            has_error: false,
            error_message: None,
            page_index: index,
            page_count: pages,
        }
    }

    /// The same pagination announcing `max` as the largest page (`limits.max_page_size`).
    pub fn with_max_page_size(mut self, max: usize) -> Self {
        self.max_page_size = max;
        self
    }
}

/// Paging parameters of `GET /task`, resolved to an offset and a page size.
pub fn page_of(
    page_size: Option<usize>,
    index: Option<usize>,
    offset: Option<usize>,
) -> (usize, usize) {
    let size = page_size.unwrap_or(50).clamp(1, MAX_PAGE_SIZE);
    let offset = offset.unwrap_or_else(|| index.unwrap_or(0).saturating_mul(size));
    (offset, size)
}

/// Pagination of a page of tasks.
pub fn pagination_of<T>(p: &Page<T>, offset: usize, size: usize) -> Pagination {
    Pagination::new(p.total, size, offset, p.items.len())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn pagination_fields_are_computed() {
        let p = Pagination::new(2, 50, 1, 1);
        let v = serde_json::to_value(ListEntity::<Value>::paginated_tasks(vec![], p)).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "entity-type");
        assert_eq!(keys[1], "isPaginable");
        assert_eq!(keys.last().unwrap().as_str(), "entries");
        assert_eq!(v["resultsCount"], 2);
        assert_eq!(v["currentPageOffset"], 1);
        assert_eq!(v["isPreviousPageAvailable"], true);
        assert_eq!(v["isNextPageAvailable"], false);
        assert_eq!(v["numberOfPages"], 1);
        assert_eq!(page_of(Some(10), Some(2), None), (20, 10));
        assert_eq!(page_of(None, Some(3), Some(1)), (1, 50));
    }
}
