//! Passes over the generated document for what operations share: the
//! errors that come from what an operation takes (its query, path, body,
//! token and idempotency key) rather than from what it does, the files an
//! export can answer with, and the media type of every error.

use utoipa::{
    Modify, PartialSchema, ToSchema,
    openapi::{
        Content, ContentBuilder, OpenApi, PathItem, RefOr, Response, Schema, Type,
        extensions::Extensions,
        path::{Operation, ParameterIn},
        schema::{ObjectBuilder, Ref},
        security::SecurityRequirement,
    },
};

use crate::http::{error::Problem, export::XLSX};

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One error the shared machinery can give: its status, its stable `code`,
/// and when.
struct Shared {
    status: &'static str,
    code: &'static str,
    when: &'static str,
}

const fn shared(status: &'static str, code: &'static str, when: &'static str) -> Shared {
    Shared { status, code, when }
}

/// The middleware in `http/text.rs` refuses a control character anywhere
/// in a query string, on every route, before the route reads it.
const CONTROL_IN_QUERY: Shared = shared(
    "422",
    "validation_failed",
    "a control character in the query string",
);
/// `web::Query` fails before the handler runs.
const INVALID_QUERY: Shared = shared(
    "400",
    "invalid_query",
    "a query parameter that does not parse",
);
/// `http::export::requested` reads `?format=` itself.
const INVALID_FORMAT: Shared = shared(
    "400",
    "invalid_format",
    "a `format` other than csv, xlsx or json",
);
/// An unparsable id is answered like an unknown one.
const NOT_FOUND: Shared = shared(
    "404",
    "not_found",
    "no such resource, or an id that is not a UUID",
);
/// What `http::Json` answers about a body, after the auth extractors.
const BODY: [Shared; 4] = [
    shared("400", "malformed_json", "a body that is not JSON"),
    shared("413", "payload_too_large", "a body over `http.body_limit`"),
    shared(
        "415",
        "unsupported_media_type",
        "a body that is not `application/json`",
    ),
    shared(
        "422",
        "validation_failed",
        "a missing, mistyped or invalid field, or a control character in the body or query string",
    ),
];
/// What the auth extractors answer, `MaybeCaller` included (a bad token on
/// a public route is still refused).
const TOKEN: Shared = shared(
    "401",
    "missing_token, invalid_token, account_disabled",
    "no valid access token",
);
/// What `http::idempotency` answers about an `Idempotency-Key`.
const IDEMPOTENCY: [Shared; 3] = [
    shared(
        "400",
        "invalid_idempotency_key",
        "not 1 to 200 printable ASCII characters",
    ),
    shared(
        "409",
        "idempotency_in_progress",
        "the first request with this key is not finished",
    ),
    shared(
        "422",
        "idempotency_key_reused",
        "the key was used with another body",
    ),
];

/// Documents on every operation the errors that come from what it takes:
/// 400/413/415/422 for a JSON body, 400 `invalid_query` for query
/// parameters, 404 for a path id, 401 where a token is read, the
/// idempotency answers where an `Idempotency-Key` is taken, and 422 for a
/// control character in any query string. An operation that documents the
/// status already keeps its description, with the shared codes added.
/// An operation with a `format` query parameter also answers 200 as CSV or
/// XLSX.
pub struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                for error in shared_errors(operation) {
                    document(operation, &error);
                }
                if takes(operation, ParameterIn::Query, "format") {
                    document_files(operation);
                }
            }
        }
    }
}

fn shared_errors(operation: &Operation) -> Vec<Shared> {
    let has = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let mut errors = Vec::new();
    if operation.request_body.is_some() {
        errors.extend(BODY);
    } else {
        errors.push(CONTROL_IN_QUERY);
    }
    if has(ParameterIn::Query) {
        errors.push(INVALID_QUERY);
    }
    if takes(operation, ParameterIn::Query, "format") {
        errors.push(INVALID_FORMAT);
    }
    if has(ParameterIn::Path) {
        errors.push(NOT_FOUND);
    }
    let open = SecurityRequirement::default();
    if operation.security.iter().flatten().any(|s| *s != open) {
        errors.push(TOKEN);
    }
    if takes(operation, ParameterIn::Header, "Idempotency-Key") {
        errors.extend(IDEMPOTENCY);
    }
    errors
}

fn takes(operation: &Operation, place: ParameterIn, name: &str) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == place && p.name.eq_ignore_ascii_case(name))
}

/// Adds the error to the operation's response for its status, or creates it.
fn document(operation: &mut Operation, error: &Shared) {
    let entry = format!("{} ({})", error.code, error.when);
    let responses = &mut operation.responses.responses;
    match responses.get_mut(error.status) {
        Some(RefOr::T(response)) => {
            let first_code = error.code.split(',').next().unwrap_or(error.code);
            if response.description.is_empty() {
                response.description = entry;
            } else if !response.description.contains(first_code) {
                response.description = format!("{}, {entry}", response.description);
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert(error.status.to_owned(), RefOr::T(Response::new(entry)));
        }
    }
}

/// The 200 of an export: JSON as documented, or the same rows as a file.
fn document_files(operation: &mut Operation) {
    let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else {
        return;
    };
    let text = ObjectBuilder::new().schema_type(Type::String).build();
    let binary = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type(XLSX)
        .build();
    ok.content.insert(
        "text/csv".to_owned(),
        ContentBuilder::new().schema(Some(text)).build(),
    );
    ok.content.insert(
        XLSX.to_owned(),
        ContentBuilder::new().schema(Some(binary)).build(),
    );
}

/// The media type of a stream of Server-Sent Events.
const EVENT_STREAM: &str = "text/event-stream";

/// Documents what a `text/event-stream` response sends: events whose `data`
/// is the JSON of the type the handler names (`body = EventStats`), not that
/// type itself. Before OpenAPI 3.2 (`itemSchema`), a stream's `schema`
/// describes each event as an object of its fields, `event` and `data`, and
/// JSON Schema's `contentMediaType`/`contentSchema` describe the JSON text.
pub struct ServerSentEvents;

impl Modify for ServerSentEvents {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                for response in operation.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let Some(content) = response.content.get_mut(EVENT_STREAM) else {
                        continue;
                    };
                    if let Some(payload) = content.schema.take() {
                        content.schema = Some(event_of(payload));
                    }
                }
            }
        }
    }
}

/// One event of a stream whose `data` is the JSON of `payload`.
fn event_of(payload: RefOr<Schema>) -> RefOr<Schema> {
    let mut data = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .build();
    // utoipa has no field for `contentSchema`; extensions are written as they are.
    let payload = serde_json::to_value(payload).expect("a schema serialises");
    data.extensions = Some(Extensions::from_iter([("contentSchema", payload)]));
    ObjectBuilder::new()
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The event's name, e.g. `stats`")),
        )
        .property("data", data)
        .required("data")
        .build()
        .into()
}

/// Documents every 4xx and 5xx response as what the server sends:
/// `application/problem+json` with the `Problem` schema. Handlers write
/// `body = Problem`, which utoipa documents as `application/json`; an
/// example given there is kept. Runs after [`SharedResponses`], so the
/// errors it adds are problems too.
pub struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let name = Problem::name().into_owned();
        if !components.schemas.contains_key(&name) {
            let mut schemas = Vec::new();
            Problem::schemas(&mut schemas);
            components.schemas.extend(schemas);
            components.schemas.insert(name.clone(), Problem::schema());
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                for (status, response) in &mut operation.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if !status.starts_with(['4', '5']) {
                        continue;
                    }
                    let previous = response.content.values().next().cloned();
                    let mut content = Content::new(Some(Ref::from_schema_name(name.clone())));
                    if let Some(previous) = previous {
                        content.example = previous.example;
                        content.examples = previous.examples;
                    }
                    response.content.clear();
                    response.content.insert(PROBLEM_JSON.to_owned(), content);
                }
            }
        }
    }
}

/// The operations of a path, whatever their methods.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
