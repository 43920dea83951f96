//! Ids in and out: which engine owns an id, a document or a model name, and the ids
//! an engine's answers carry once they leave the gateway (`<prefix>~<native id>` for
//! every engine but the default).

use flowgate_core::{DocLocator, EngineError, Result, Task, WorkflowInstance};

use super::{check_remote_id, check_remote_path, EngineEntry, Router, PREFIX_SEP};

impl Router {
    /// The engine owning `id` and the engine's native id. An id whose prefix names no
    /// engine is a 404; ids a remote engine must not see are a 400.
    pub fn resolve<'a>(&self, id: &'a str) -> Result<(&EngineEntry, &'a str)> {
        let (e, native) = match id.split_once(PREFIX_SEP) {
            // `~abc`: a default engine's own encoded id.
            Some((prefix, rest)) if !prefix.is_empty() => match self.by_prefix(prefix) {
                Some(e) => (e, rest),
                None => {
                    return Err(EngineError::not_found(format!(
                        "No engine is configured for the id prefix '{}'",
                        prefix.chars().take(64).collect::<String>()
                    )))
                }
            },
            _ => (self.default_entry(), id),
        };
        if e.options.remote {
            check_remote_id(e, native)?;
        }
        Ok((e, native))
    }

    /// The engine responsible for a document and the document reference it understands.
    pub fn resolve_document(&self, loc: &DocLocator) -> Result<(&EngineEntry, DocLocator)> {
        match loc {
            DocLocator::Id(id) => {
                let (e, native) = self.resolve(id)?;
                Ok((e, DocLocator::Id(native.to_owned())))
            }
            DocLocator::Path(p) => {
                let (e, mount) = self
                    .engines
                    .iter()
                    .flat_map(|e| e.mounts.iter().map(move |m| (e, m.as_str())))
                    .filter(|(_, m)| mount_matches(m, p))
                    .max_by_key(|(_, m)| m.trim_end_matches('/').len())
                    .unwrap_or((self.default_entry(), "/"));
                let path = if e.options.strip_mount {
                    let m = mount.trim_end_matches('/');
                    let rest = &p[m.len().min(p.len())..];
                    if rest.is_empty() {
                        "/".to_owned()
                    } else {
                        rest.to_owned()
                    }
                } else {
                    p.clone()
                };
                if e.options.remote {
                    check_remote_path(e, &path)?;
                }
                Ok((e, DocLocator::Path(path)))
            }
        }
    }

    pub(super) fn outward(e: &EngineEntry, id: &str) -> String {
        match &e.prefix {
            Some(p) => {
                // Sized once (every remote task read prefixes two or three ids).
                let mut sep = [0; 4];
                [p.as_str(), PREFIX_SEP.encode_utf8(&mut sep), id].concat()
            }
            None => id.to_owned(),
        }
    }

    pub(super) fn out_docs(e: &EngineEntry, docs: Vec<String>) -> Vec<String> {
        if e.prefix.is_none() {
            return docs;
        }
        docs.into_iter().map(|d| Self::outward(e, &d)).collect()
    }

    pub(super) fn out_workflow(e: &EngineEntry, mut w: WorkflowInstance) -> WorkflowInstance {
        if e.prefix.is_none() {
            // The default engine's ids go out as they are.
            return w;
        }
        w.id = Self::outward(e, &w.id);
        w.attached_documents = Self::out_docs(e, std::mem::take(&mut w.attached_documents));
        w
    }

    pub(super) fn out_task(e: &EngineEntry, mut t: Task) -> Task {
        if e.prefix.is_none() {
            return t;
        }
        t.id = Self::outward(e, &t.id);
        t.workflow_id = t.workflow_id.map(|w| Self::outward(e, &w));
        t.target_documents = Self::out_docs(e, std::mem::take(&mut t.target_documents));
        t
    }

    /// A model name as the engine knows it, and the engine when the name is qualified
    /// (`<prefix>~<name>`). A qualifier naming no engine is a 404.
    pub(super) fn model_target<'a>(
        &self,
        name: &'a str,
    ) -> Result<(Option<&EngineEntry>, &'a str)> {
        match name.split_once(PREFIX_SEP) {
            Some((prefix, rest)) if !prefix.is_empty() && !rest.is_empty() => {
                match self.by_prefix(prefix) {
                    Some(e) => Ok((Some(e), rest)),
                    None => Err(EngineError::not_found(format!(
                        "No engine is configured for the model qualifier '{}'",
                        prefix.chars().take(64).collect::<String>()
                    ))),
                }
            }
            _ => Ok((None, name)),
        }
    }
}

/// Whether document path `path` lies under mount `mount` (whole segments only).
fn mount_matches(mount: &str, path: &str) -> bool {
    let m = mount.trim_end_matches('/');
    m.is_empty()
        || path == m
        || (path.starts_with(m) && path.as_bytes().get(m.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_match_whole_segments() {
        assert!(mount_matches("/", "/a/b"));
        assert!(mount_matches("/alfresco", "/alfresco/x"));
        assert!(mount_matches("/alfresco", "/alfresco"));
        assert!(!mount_matches("/alfresco", "/alfrescox/y"));
    }
}
