//! Queries and paging.

use serde::{Deserialize, Serialize};

use crate::order::{TaskSort, WorkflowSort};
use crate::{Task, WorkflowInstance};

/// Which slice of a result a caller wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Number of items to skip.
    pub offset: usize,
    /// Maximum number of items to return.
    pub limit: usize,
}

impl PageRequest {
    /// A page of at most `limit` items starting at `offset`.
    pub fn new(offset: usize, limit: usize) -> Self {
        Self { offset, limit }
    }

    /// Everything (no paging).
    pub fn all() -> Self {
        Self {
            offset: 0,
            limit: usize::MAX,
        }
    }

    /// Applies the page to an already sorted, complete list.
    pub fn slice<T>(&self, items: Vec<T>) -> Page<T> {
        let total = items.len();
        let items = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        Page { items, total }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::all()
    }
}

/// One page of a result, with the total number of matching items.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items matched in all.
    pub total: usize,
}

impl<T> Page<T> {
    /// An empty page.
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            total: 0,
        }
    }

    /// Maps the items, keeping the total.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
        }
    }
}

/// "Tasks of this user": matches tasks whose actors or delegated actors name the user
/// or one of its groups, bare or with a `user:` / `group:` prefix.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ActorFilter {
    /// Bare user name.
    pub user: String,
    /// The user's groups (bare names), resolved by the gateway.
    pub groups: Vec<String>,
}

impl ActorFilter {
    /// Every principal spelling that designates this user: `u`, `user:u`, `g`, `group:g`.
    pub fn principals(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(2 + 2 * self.groups.len());
        out.push(self.user.clone());
        out.push(format!("user:{}", self.user));
        for g in &self.groups {
            out.push(g.clone());
            out.push(format!("group:{g}"));
        }
        out
    }

    /// Whether an actor string designates this user.
    pub fn matches(&self, actor: &str) -> bool {
        if let Some(u) = actor.strip_prefix("user:") {
            return u == self.user;
        }
        if let Some(g) = actor.strip_prefix("group:") {
            return self.groups.iter().any(|x| x == g);
        }
        actor == self.user || self.groups.iter().any(|x| x == actor)
    }
}

/// A task query. All filters are optional and combine with AND. Results are limited to
/// what the caller (`CallContext`) may see, in the order of [`crate::order::tasks`]:
/// without a sort, the inbox order (due date ascending, tasks without a due date last,
/// then creation time, then id); with one, its key first. Paging applies to the sorted
/// whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskQuery {
    /// Keep tasks assigned or delegated to this user or its groups.
    pub actor: Option<ActorFilter>,
    /// Keep tasks of this workflow instance.
    pub workflow_id: Option<String>,
    /// Keep tasks whose workflow was started from this model.
    pub model_name: Option<String>,
    /// Keep tasks targeting this document id.
    pub document: Option<String>,
    /// Keep only `opened` tasks (the default).
    pub open_only: bool,
    /// Order; `None` for the inbox order.
    pub sort: Option<TaskSort>,
    /// Paging.
    pub page: PageRequest,
}

impl Default for TaskQuery {
    fn default() -> Self {
        Self {
            actor: None,
            workflow_id: None,
            model_name: None,
            document: None,
            open_only: true,
            sort: None,
            page: PageRequest::all(),
        }
    }
}

impl TaskQuery {
    /// Open tasks of one user (and groups).
    pub fn for_actor<I, S>(user: impl Into<String>, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            actor: Some(ActorFilter {
                user: user.into(),
                groups: groups.into_iter().map(Into::into).collect(),
            }),
            ..Self::default()
        }
    }

    /// Open tasks of one workflow instance.
    pub fn for_workflow(id: impl Into<String>) -> Self {
        Self {
            workflow_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Sets the page.
    pub fn page(mut self, page: PageRequest) -> Self {
        self.page = page;
        self
    }

    /// Sets the order.
    pub fn sorted(mut self, sort: TaskSort) -> Self {
        self.sort = Some(sort);
        self
    }

    /// Sorts every matching task in the query's order and returns the query's page.
    pub fn sorted_page(&self, mut all: Vec<Task>) -> Page<Task> {
        crate::order::sort_tasks(&mut all, self.sort.as_ref());
        self.page.slice(all)
    }
}

/// A workflow instance query. Filters combine with AND; results are limited to what the
/// caller may see, in the order of [`crate::order::workflows`]: by creation time then id
/// without a sort, its key first with one. Paging applies to the sorted whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowQuery {
    /// Keep instances started by this user.
    pub initiator: Option<String>,
    /// Keep instances of this model.
    pub model_name: Option<String>,
    /// Keep instances with this document attached.
    pub document: Option<String>,
    /// Keep only running instances (the default).
    pub running_only: bool,
    /// Order; `None` for creation time then id.
    pub sort: Option<WorkflowSort>,
    /// Paging.
    pub page: PageRequest,
}

impl Default for WorkflowQuery {
    fn default() -> Self {
        Self {
            initiator: None,
            model_name: None,
            document: None,
            running_only: true,
            sort: None,
            page: PageRequest::all(),
        }
    }
}

impl WorkflowQuery {
    /// Sorts every matching instance in the query's order and returns the query's page.
    pub fn sorted_page(&self, mut all: Vec<WorkflowInstance>) -> Page<WorkflowInstance> {
        crate::order::sort_workflows(&mut all, self.sort.as_ref());
        self.page.slice(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_filter_matches_all_spellings() {
        let f = ActorFilter {
            user: "jdoe".into(),
            groups: vec!["members".into()],
        };
        for a in ["jdoe", "user:jdoe", "members", "group:members"] {
            assert!(f.matches(a), "{a}");
        }
        assert!(!f.matches("user:members"));
        assert_eq!(f.principals().len(), 4);
    }

    #[test]
    fn page_slices_and_counts() {
        let p = PageRequest::new(1, 2).slice(vec![1, 2, 3, 4]);
        assert_eq!(p.items, vec![2, 3]);
        assert_eq!(p.total, 4);
    }
}
