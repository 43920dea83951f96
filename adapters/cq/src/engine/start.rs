//! Starting a workflow: the start POST, the read-back that verifies it, recovery of a
//! start whose answer was lost, and starts of transient models (whose instance CQ
//! never stores).

use super::*;

/// How far CQ's clock may lag behind the gateway's when a lost start is looked for by
/// its start time.
const CLOCK_SKEW_SECS: i64 = 300;

/// Variable set on the answer to a start whose instance CQ did not store.
pub(crate) const VAR_STORED: &str = "cqInstanceStored";

/// What identifies one start attempt when its answer was lost.
pub(super) struct Attempt<'a> {
    model: &'a str,
    payload: &'a str,
    start_id: &'a str,
    posted_at: DateTime<Utc>,
}

impl CqEngine {
    /// Remembers a start made through this engine (see [`crate::ledger`]).
    fn record_start(&self, cx: &CallContext, paths: &[&str], start_id: &str) {
        let record = StartRecord {
            initiator: cx.user.clone(),
            start_id: start_id.to_owned(),
        };
        self.ledger.record_start(paths, &record);
    }

    /// The account CQ records as the initiator of the adapter's starts, when known:
    /// the caller with pass-through auth, the Basic service account otherwise.
    fn posting_user<'a>(&'a self, cx: &'a CallContext) -> Option<&'a str> {
        match &self.config.auth {
            _ if !self.client.is_service_account() => Some(cx.user.as_str()),
            crate::config::AuthConfig::Basic { user, .. } => Some(user.as_str()),
            _ => None,
        }
    }

    /// After an ambiguous start, finds the instance it created. The start id written
    /// into the start metadata identifies it exactly when CQ renders metadata. Without
    /// metadata, an instance of the same model on the same payload, initiated by the
    /// posting account, started since the POST (allowing [`CLOCK_SKEW_SECS`]) and not
    /// known as another start of this engine is taken; when several match, the start is
    /// reported as ambiguous (a conflict naming them), never as absent.
    pub(super) async fn reconcile_start(
        &self,
        cx: &CallContext,
        attempt: &Attempt<'_>,
    ) -> Result<Option<InstanceDoc>> {
        let paths = self.instance_paths(cx, None).await?;
        let docs = self.instance_docs(cx, paths).await?;
        if let Some(d) = docs
            .iter()
            .find(|d| convert::meta_start_id(d) == Some(attempt.start_id))
        {
            return Ok(Some(d.clone()));
        }
        let since = attempt.posted_at - chrono::Duration::seconds(CLOCK_SKEW_SECS);
        let poster = self.posting_user(cx);
        let mut found: Vec<InstanceDoc> = docs
            .into_iter()
            .filter(|d| {
                self.start_id(d).is_none()
                    && model_name_of(&d.model).as_deref() == Some(attempt.model)
                    && d.payload.as_deref() == Some(attempt.payload)
                    && poster.is_none_or(|p| d.initiator.as_deref() == Some(p))
                    && match d.start_time.get() {
                        Some(t) => t >= since,
                        // No readable start time: the day the path names.
                        None => crate::dates::day_of_instance_path(&d.id)
                            .is_some_and(|day| day.date_naive() >= since.date_naive()),
                    }
            })
            .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => {
                let ids: Vec<String> = found.iter().map(|d| ids::encode(&d.id)).collect();
                Err(EngineError::conflict(format!(
                    "engine '{}' did not confirm the start, and {n} workflows of model '{}' \
                     on this document started since, none of which carries a start id: \
                     the start did happen; do not repeat it. Candidates: {}",
                    self.name(),
                    attempt.model,
                    ids.join(", ")
                )))
            }
        }
    }

    pub(super) async fn start_instance(
        &self,
        cx: &CallContext,
        req: StartWorkflow,
    ) -> Result<WorkflowInstance> {
        let name = Self::model_name_arg(&req.model);
        let model = self.load_model(cx, &name).await?;
        let [doc] = req.documents.as_slice() else {
            return Err(EngineError::bad_request(format!(
                "a CQ workflow runs on exactly one payload; {} documents were given",
                req.documents.len()
            )));
        };
        let payload = ids::document_path(doc)?;
        let runtime = self.config.profile.model_id(&name);
        let start_id = uuid::Uuid::new_v4().to_string();
        let mut fields: Vec<(String, String)> = vec![
            ("model".into(), runtime.clone()),
            ("payloadType".into(), "JCR_PATH".into()),
            ("payload".into(), payload.clone()),
            (META_INITIATOR.into(), cx.user.clone()),
            (META_START_ID.into(), start_id.clone()),
        ];
        let var = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| req.variables.get(*k).and_then(scalar))
        };
        if let Some(t) = var(&["title", META_TITLE]) {
            fields.push((META_TITLE.into(), t));
        }
        if let Some(c) = var(&["comment", META_COMMENT, "initiatorComment"]) {
            fields.push((META_COMMENT.into(), c));
        }
        for (k, v) in &req.variables {
            let taken = matches!(
                k.as_str(),
                "title" | "comment" | "initiatorComment" | META_TITLE | META_COMMENT
            );
            if taken
                || RESERVED_FIELDS.contains(&k.as_str())
                || k.starts_with(':')
                || k.starts_with("flowgate")
                || k.chars().any(char::is_control)
            {
                continue;
            }
            if let Some(s) = scalar(v) {
                fields.push((k.clone(), s));
            }
        }
        let posted_at = Utc::now();
        let outcome = self
            .client
            .post_form(cx, "start_workflow", "/etc/workflow/instances", &fields)
            .await;
        // Nothing cached can describe a new instance; reads in flight are refused anyway.
        self.cache.bump();
        let posted = match outcome {
            Ok(p) => p,
            Err(e) if ambiguous(&e) => {
                // Never re-POST a start: look for the instance carrying our start id.
                tracing::warn!(engine = %self.name(), error = %e, "start outcome unknown; reconciling");
                let attempt = Attempt {
                    model: &name,
                    payload: &payload,
                    start_id: &start_id,
                    posted_at,
                };
                return match self.reconcile_start(cx, &attempt).await {
                    Ok(Some(doc)) => {
                        self.record_start(cx, &[&doc.id], &start_id);
                        convert::instance(&doc, Some(&model.title), self.initiator(&doc))
                    }
                    Ok(None) => Err(EngineError::upstream(
                        None,
                        format!("engine '{}' did not confirm the start and no new workflow was found; it may be retried", self.name()),
                    )),
                    Err(r) if r.kind() == ErrorKind::Conflict => Err(r),
                    Err(_) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if posted.status != 201 {
            tracing::warn!(engine = %self.name(), status = posted.status, "start answered without 201 Created");
        }
        let path = posted
            .location
            .as_deref()
            .and_then(|l| self.client.location_path(l))
            .or_else(|| {
                posted
                    .page
                    .location
                    .as_deref()
                    .and_then(|l| self.client.location_path(l))
            })
            .or_else(|| posted.page.path.clone())
            .ok_or_else(|| {
                EngineError::upstream(
                    Some(posted.status),
                    format!(
                        "engine '{}' answered {} to the start but created no workflow instance",
                        self.name(),
                        posted.status
                    ),
                )
            })?;
        let unverified = |why: &str| {
            EngineError::upstream(
                Some(posted.status),
                format!(
                    "engine '{}' answered {} to the start but {why}",
                    self.name(),
                    posted.status
                ),
            )
        };
        if ids::check_path(&path).is_err()
            || !path.starts_with(self.root()) && !path.starts_with("/etc/workflow/instances/")
        {
            return Err(unverified("named no workflow instance"));
        }
        let doc = match self.instance_doc(cx, &path).await {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if !names_new_instance_of(&path, &name) {
                    return Err(unverified("created no workflow instance"));
                }
                // A transient model: CQ ran it without storing an instance.
                tracing::info!(engine = %self.name(), path = %path, "started instance cannot be read back (transient model)");
                self.record_start(cx, &[&path], &start_id);
                return Ok(unstored_instance(
                    &path,
                    &name,
                    &model.title,
                    &fields,
                    &cx.user,
                    &payload,
                    posted_at,
                ));
            }
            Err(e) => return Err(e),
        };
        let same_model = model_name_of(&doc.model).as_deref() == Some(name.as_str());
        if !same_model || doc.payload.as_deref() != Some(payload.as_str()) {
            if doc.state == "RUNNING" {
                let abort = vec![("state".to_owned(), "ABORTED".to_owned())];
                let outcome = self
                    .client
                    .post_form(cx, "abort_unverified", &doc.id, &abort)
                    .await;
                self.forget(&path, None);
                self.forget(&doc.id, None);
                if let Err(e) = outcome {
                    tracing::warn!(engine = %self.name(), error = %e, "could not abort an unverified start");
                }
            }
            return Err(unverified("the new instance does not match the request"));
        }
        self.record_start(cx, &[&doc.id, &path], &start_id);
        convert::instance(&doc, Some(&model.title), self.initiator(&doc))
    }
}

/// Whether `path` is named like a new instance of model `name`
/// (`…/<date>/<model leaf>_<n>`, as CQ names them), as opposed to some other node a
/// POST may have created.
fn names_new_instance_of(path: &str, name: &str) -> bool {
    let leaf = name.rsplit('/').next().unwrap_or(name);
    let Some((parent, last)) = path.rsplit_once('/') else {
        return false;
    };
    let numbered = last
        .strip_prefix(leaf)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    numbered && crate::dates::day_of_instance_path(&format!("{parent}/x")).is_some()
}

/// The answer to a start CQ accepted (201 with the instance's location) but whose
/// instance it did not store: the workflow was started, so this is a success, with the
/// id CQ named, state running (its progress cannot be observed) and
/// [`VAR_STORED`] = false. Reads of that id later answer 404.
fn unstored_instance(
    path: &str,
    name: &str,
    model_title: &str,
    fields: &[(String, String)],
    user: &str,
    payload: &str,
    posted_at: DateTime<Utc>,
) -> WorkflowInstance {
    let field = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let mut variables = Variables::new();
    variables.insert(VAR_STORED.to_owned(), Value::Bool(false));
    if let Some(c) = field(META_COMMENT) {
        variables.insert(META_COMMENT.to_owned(), Value::String(c));
    }
    WorkflowInstance {
        id: ids::encode(path),
        name: name.to_owned(),
        title: field(META_TITLE)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| model_title.to_owned()),
        state: WorkflowState::Running,
        model_name: name.to_owned(),
        initiator: Some(user.to_owned()),
        attached_documents: vec![ids::encode(payload)],
        variables,
        created: posted_at,
        ended: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_named_like_a_new_instance_of_the_model_count() {
        let root = "/var/workflow/instances/server0/2024-05-02";
        assert!(names_new_instance_of(
            &format!("{root}/review_3"),
            "flowgate/review"
        ));
        assert!(names_new_instance_of(
            "/etc/workflow/instances/2024-05-02/publish_example_12",
            "publish_example"
        ));
        for p in [
            format!("{root}/review_"),
            format!("{root}/review_3a"),
            format!("{root}/other_3"),
            "/var/workflow/instances/server0/junk_3f2a".to_owned(),
            "/var/workflow/instances/server0/review_3".to_owned(),
        ] {
            assert!(!names_new_instance_of(&p, "flowgate/review"), "{p}");
        }
    }
}
