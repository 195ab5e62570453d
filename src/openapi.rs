//! The OpenAPI 3 document, generated from the handlers and DTOs.

use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        Content, PathItem, RefOr,
        path::Operation,
        schema::Ref,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use crate::{
    accounts, checkin, events, http, http::error::Problem, intents, notify, ops, registrations,
    reports,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "暖城之邀 API",
        description = "Campus recruitment for Ordos: events, registrations, check-in and intents to join (引进意向). \
Errors are application/problem+json with a stable `code`.",
        version = "1.0.0"
    ),
    servers((url = "/", description = "this server")),
    paths(
        accounts::routes::signup,
        accounts::routes::login,
        accounts::routes::refresh,
        accounts::routes::logout,
        accounts::routes::verify_email,
        accounts::routes::password_reset,
        accounts::routes::password_reset_confirm,
        accounts::routes::accept_invitation,
        accounts::routes::me,
        accounts::routes::update_me,
        accounts::routes::invite,
        accounts::routes::list_users,
        accounts::routes::update_user,
        events::employers::create,
        events::employers::list,
        events::employers::get,
        events::employers::update,
        events::positions::create,
        events::positions::list_for_employer,
        events::positions::list,
        events::positions::get,
        events::positions::update,
        events::campaigns::create,
        events::campaigns::list,
        events::campaigns::get,
        events::campaigns::update,
        events::routes::create_event,
        events::routes::list_events,
        events::routes::get_event,
        events::routes::update_event,
        events::routes::publish_event,
        events::routes::complete_event,
        events::routes::cancel_event,
        registrations::routes::register,
        registrations::routes::list_event_registrations,
        registrations::routes::list_my_registrations,
        registrations::routes::get_registration,
        registrations::routes::cancel_registration,
        registrations::routes::get_ticket,
        checkin::routes::check_in,
        checkin::routes::check_in_batch,
        checkin::routes::get_checkin_list,
        checkin::routes::admit_walk_in,
        checkin::routes::get_event_stats,
        checkin::routes::watch_event_live,
        intents::routes::create_intent,
        intents::routes::list_intents,
        intents::routes::get_intent,
        intents::routes::move_intent,
        intents::routes::list_my_intents,
        reports::routes::report_intents,
        reports::routes::report_funnel,
        reports::routes::report_referrals,
        reports::routes::get_my_referral,
        notify::routes::list,
        notify::routes::retry,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(http::error::Problem, http::error::FieldError)),
    modifiers(&BearerAuth, &ProblemResponses),
    tags(
        (name = "accounts", description = "Signup, login, tokens, invitations, users"),
        (name = "employers", description = "Employers that recruit at events, and their positions"),
        (name = "campaigns", description = "Campaigns such as 名校引才专项行动 that group events"),
        (name = "events", description = "Info sessions, job fairs and online events"),
        (name = "registrations", description = "Registration, waitlist, cancellation and tickets"),
        (name = "check-in", description = "Scans at the door, offline sync, walk-ins, live figures"),
        (name = "intents", description = "Intents to join (引进意向) and their history"),
        (name = "reports", description = "Counts by event, university, employer, degree, category, month; funnel; referrals"),
        (name = "notifications", description = "The mail outbox (admins)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The media type of every error body (RFC 9457).
const PROBLEM_JSON: &str = "application/problem+json";

/// Documents every 4xx and 5xx response as what the server sends:
/// `application/problem+json` with the `Problem` schema. Handlers write
/// `body = Problem`, which utoipa documents as `application/json`; an
/// example given there is kept.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serialises")
    }

    /// `(method, path, operation)` for every operation in the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    found.push((method.to_uppercase(), path.clone(), operation.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn every_error_response_is_a_problem() {
        let doc = document();
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        let mut errors = 0;
        for (method, path, operation) in operations(&doc) {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if !status.starts_with(['4', '5']) {
                    assert!(
                        response["content"].get(PROBLEM_JSON).is_none(),
                        "{method} {path} {status}"
                    );
                    continue;
                }
                let content = response["content"].as_object().expect("content");
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    [PROBLEM_JSON],
                    "{method} {path} {status}"
                );
                assert_eq!(
                    content[PROBLEM_JSON]["schema"]["$ref"], "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
                errors += 1;
            }
        }
        assert!(errors > 100, "only {errors} error responses");
    }

    /// Every `{name}` of a path is a path parameter and every path parameter
    /// is in the path: query parameters documented as path parameters send
    /// generated clients to URLs that do not exist.
    #[test]
    fn path_parameters_match_the_path() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let mut in_template: Vec<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .collect();
            let mut documented: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            in_template.sort_unstable();
            documented.sort_unstable();
            assert_eq!(documented, in_template, "{method} {path}");
        }
    }

    /// Generated clients name their functions after `operationId`s, so each
    /// operation needs one of its own.
    #[test]
    fn every_operation_has_its_own_operation_id() {
        let doc = document();
        let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut missing = Vec::new();
        for (method, path, operation) in operations(&doc) {
            match operation["operationId"].as_str() {
                Some(id) if !id.is_empty() => by_id
                    .entry(id.to_owned())
                    .or_default()
                    .push(format!("{method} {path}")),
                _ => missing.push(format!("{method} {path}")),
            }
        }
        by_id.retain(|_, operations| operations.len() > 1);
        assert!(missing.is_empty(), "no operationId: {missing:#?}");
        assert!(by_id.is_empty(), "shared operationIds: {by_id:#?}");
    }
}
