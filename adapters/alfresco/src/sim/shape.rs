//! The shape of the simulator's workflow answers: as it builds them, with only the
//! fields Alfresco's published definition requires (plus those carrying state), or
//! with every optional field the definition lists. Applied to each successful JSON
//! answer of the v1 workflow API after it was built, by the path it answers.

use serde_json::{json, Map, Value};

/// Which fields the workflow answers carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimShape {
    /// As the simulator builds them: the fields a live server was seen to send, plus a
    /// few outside the definition (`processDefinitionKey`, ...).
    #[default]
    Default,
    /// The definition's `required` fields, plus only the fields that carry an entity's
    /// state or links (see [`MINIMAL`]); no `pagination`, no field outside the
    /// definition.
    Minimal,
    /// Every field the definition lists, optional ones included, wherever it applies.
    Full,
}

/// The entities of the definition, told apart by the path that answers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Deployment,
    Definition,
    Process,
    Task,
    Variable,
    Item,
    FormModel,
    Candidate,
}

/// Kept in minimal mode besides the required `id`: what says who acts, how an entity
/// links to others, whether it ended (a task's `state` too: only it tells a pending
/// delegation of a pooled task, which has no owner, from an assignment), and the
/// payload of variables, forms and candidates. Everything else the definition leaves
/// optional is left out: definition key, version and title, process definition id and
/// start date, task start date, name, form key and definition id, `pagination`, ...
pub const MINIMAL: &[(&str, &[&str])] = &[
    ("Deployment", &["id"]),
    ("ProcessDefinition", &["id"]),
    (
        "Process",
        &[
            "id",
            "businessKey",
            "startUserId",
            "endedAt",
            "deleteReason",
        ],
    ),
    (
        "Task",
        &[
            "id",
            "processId",
            "activityDefinitionId",
            "assignee",
            "owner",
            "endedAt",
            "dueAt",
            "state",
            "variables",
        ],
    ),
    ("Variable", &["name", "value", "scope"]),
    ("Item", &["id"]),
    (
        "TaskFormModel",
        &[
            "name",
            "dataType",
            "required",
            "defaultValue",
            "allowedValues",
        ],
    ),
    ("Candidate", &["candidateId", "candidateType"]),
];

impl Kind {
    fn schema(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::Definition => "ProcessDefinition",
            Kind::Process => "Process",
            Kind::Task => "Task",
            Kind::Variable => "Variable",
            Kind::Item => "Item",
            Kind::FormModel => "TaskFormModel",
            Kind::Candidate => "Candidate",
        }
    }

    /// Every property the definition lists for the entity.
    fn all(self) -> &'static [&'static str] {
        match self {
            Kind::Deployment => &["id", "name", "category", "deployedAt"],
            Kind::Definition => &[
                "id",
                "key",
                "name",
                "category",
                "deploymentId",
                "title",
                "description",
                "startFormResourceKey",
                "graphicNotationDefined",
            ],
            Kind::Process => &[
                "id",
                "processDefinitionId",
                "businessKey",
                "startedAt",
                "endedAt",
                "durationInMs",
                "startActivityDefinitionId",
                "endActivityDefinitionId",
                "startUserId",
                "deleteReason",
            ],
            Kind::Task => &[
                "id",
                "processId",
                "processDefinitionId",
                "activityDefinitionId",
                "name",
                "description",
                "dueAt",
                "startedAt",
                "endedAt",
                "durationInMs",
                "priority",
                "owner",
                "assignee",
                "formResourceKey",
                "state",
                "variables",
            ],
            Kind::Variable => &["scope", "name", "value", "type"],
            Kind::Item => &[
                "id",
                "name",
                "value",
                "title",
                "description",
                "mimeType",
                "createdBy",
                "createdAt",
                "edited",
                "modifiedBy",
                "modifiedAt",
                "size",
            ],
            Kind::FormModel => &[
                "dataType",
                "title",
                "qualifiedName",
                "name",
                "required",
                "defaultValue",
                "allowedValues",
            ],
            Kind::Candidate => &["candidateType", "candidateId"],
        }
    }

    fn minimal(self) -> &'static [&'static str] {
        MINIMAL
            .iter()
            .find(|(s, _)| *s == self.schema())
            .map(|(_, f)| *f)
            .unwrap_or(&[])
    }
}

/// The entity a workflow API path (after `workflow/versions/1`) answers with.
fn kind(rest: &[&str]) -> Option<Kind> {
    Some(match rest {
        ["deployments", ..] => Kind::Deployment,
        ["process-definitions", _, "start-form-model"] => Kind::FormModel,
        ["process-definitions"] | ["process-definitions", _] => Kind::Definition,
        ["processes"] | ["processes", _] => Kind::Process,
        ["processes", _, "variables", ..] | ["tasks", _, "variables", ..] => Kind::Variable,
        ["processes", _, "items", ..] | ["tasks", _, "items", ..] => Kind::Item,
        ["processes", _, "tasks"] | ["tasks"] | ["tasks", _] => Kind::Task,
        ["tasks", _, "task-form-model"] => Kind::FormModel,
        ["tasks", _, "candidates"] => Kind::Candidate,
        _ => return None,
    })
}

/// The answer `body` to `rest` (the path after `workflow/versions/1`) in `shape`.
pub(crate) fn reshape(shape: SimShape, rest: &[&str], body: Value) -> Value {
    let Some(kind) = kind(rest) else {
        return body;
    };
    if shape == SimShape::Default {
        return body;
    }
    let Value::Object(mut top) = body else {
        return body;
    };
    if let Some(Value::Object(entry)) = top.get_mut("entry") {
        one(shape, kind, entry);
    }
    if let Some(Value::Object(list)) = top.get_mut("list") {
        match shape {
            SimShape::Minimal => {
                list.remove("pagination");
            }
            _ => full_pagination(list),
        }
        if let Some(Value::Array(entries)) = list.get_mut("entries") {
            for e in entries {
                if let Some(Value::Object(entry)) = e.get_mut("entry") {
                    one(shape, kind, entry);
                }
            }
        }
    }
    Value::Object(top)
}

fn one(shape: SimShape, kind: Kind, e: &mut Map<String, Value>) {
    match shape {
        SimShape::Minimal => e.retain(|k, _| kind.minimal().contains(&k.as_str())),
        SimShape::Full => {
            fill(kind, e);
            e.retain(|k, _| kind.all().contains(&k.as_str()));
        }
        SimShape::Default => {}
    }
    if kind == Kind::Task {
        if let Some(Value::Array(vars)) = e.get_mut("variables") {
            for v in vars {
                if let Value::Object(v) = v {
                    one(shape, Kind::Variable, v);
                }
            }
        }
    }
}

fn millis_between(e: &Map<String, Value>) -> Option<i64> {
    let read = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .and_then(super::query::parse_date)
    };
    Some((read("endedAt")? - read("startedAt")?).num_milliseconds())
}

/// Adds the optional fields an entity lacks, where they apply (an open task gets no
/// `endedAt`).
fn fill(kind: Kind, e: &mut Map<String, Value>) {
    let id = e
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("0")
        .to_owned();
    let mut put = |k: &str, v: Value| {
        e.entry(k.to_owned()).or_insert(v);
    };
    let person = |who: &str| {
        json!({"id": who, "firstName": who, "lastName": "User",
        "email": format!("{who}@example.com"), "enabled": true})
    };
    match kind {
        Kind::Deployment => {
            put("name", json!("bpmn20.xml"));
            put("category", json!("http://alfresco.org"));
            put("deployedAt", json!("2024-01-01T00:00:00.000+0000"));
        }
        Kind::Definition => {
            put("category", json!("http://alfresco.org"));
            put("deploymentId", json!("1"));
            put("description", json!("A workflow"));
            put("graphicNotationDefined", json!(true));
            put("startFormResourceKey", json!("wf:submitAdhocTask"));
        }
        Kind::Process => {
            put("startActivityDefinitionId", json!("start"));
        }
        Kind::Task => {
            put("description", json!("A task"));
            put("priority", json!(2));
        }
        Kind::Variable => put("type", json!("d:text")),
        Kind::Item => {
            put("name", json!(format!("{id}.txt")));
            put("title", json!(format!("Item {id}")));
            put("description", json!("A document"));
            put("mimeType", json!("text/plain"));
            put("createdBy", person("admin"));
            put("createdAt", json!("2024-01-01T00:00:00.000+0000"));
            put("edited", json!(false));
            put("modifiedBy", person("admin"));
            put("modifiedAt", json!("2024-01-01T00:00:00.000+0000"));
            put("size", json!(42));
        }
        Kind::FormModel => {
            put("title", json!("Field"));
            put("required", json!(false));
        }
        Kind::Candidate => {}
    }
    if matches!(kind, Kind::Process | Kind::Task) {
        if let Some(ms) = millis_between(e) {
            e.entry("durationInMs".to_owned()).or_insert(json!(ms));
        }
        if kind == Kind::Process && e.contains_key("endedAt") {
            e.entry("endActivityDefinitionId".to_owned())
                .or_insert(json!("end"));
        }
    }
}

fn full_pagination(list: &mut Map<String, Value>) {
    let count = list
        .get("entries")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let p = list
        .entry("pagination".to_owned())
        .or_insert_with(|| json!({}));
    if let Value::Object(p) = p {
        p.entry("count".to_owned()).or_insert(json!(count));
        p.entry("hasMoreItems".to_owned()).or_insert(json!(false));
        p.entry("totalItems".to_owned()).or_insert(json!(count));
        p.entry("skipCount".to_owned()).or_insert(json!(0));
        p.entry("maxItems".to_owned()).or_insert(json!(100));
    }
}

/// A list answer that claims more entries whatever the page (the endless-list fault).
pub(crate) fn endless(rest: &[&str], mut body: Value) -> Value {
    if kind(rest).is_some() {
        if let Some(Value::Object(list)) = body.get_mut("list") {
            let p = list
                .entry("pagination".to_owned())
                .or_insert_with(|| json!({}));
            if let Value::Object(p) = p {
                p.insert("hasMoreItems".to_owned(), json!(true));
            }
        }
    }
    body
}
