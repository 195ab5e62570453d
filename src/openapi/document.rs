//! The OpenAPI 3 document: which handlers and DTOs it shows, and its
//! security scheme.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use super::responses::{ProblemResponses, ServerSentEvents, SharedResponses};
use crate::{
    accounts, checkin, events, http, intents, notify, ops, outreach, privacy, registrations,
    reports, webhooks,
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
        privacy::routes::notice,
        privacy::routes::my_consents,
        privacy::routes::update_my_consents,
        privacy::routes::my_access_log,
        privacy::routes::audit_log,
        outreach::routes::list_mailings,
        outreach::routes::update_mailings,
        outreach::routes::list_templates,
        outreach::routes::get_template,
        outreach::routes::save_template,
        outreach::routes::delete_template,
        outreach::routes::preview_template,
        outreach::routes::get_campaign_template,
        outreach::routes::save_campaign_template,
        outreach::routes::delete_campaign_template,
        outreach::routes::preview_campaign_template,
        outreach::routes::unsubscribe,
        webhooks::routes::create_webhook,
        webhooks::routes::list_webhooks,
        webhooks::routes::delete_webhook,
        webhooks::routes::list_deliveries,
        webhooks::routes::redeliver,
        privacy::routes::export_my_data,
        privacy::routes::delete_me,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(http::error::Problem, http::error::FieldError, http::export::ExportFormat)),
    modifiers(&BearerAuth, &SharedResponses, &ServerSentEvents, &ProblemResponses),
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
        (name = "privacy", description = "Consents, the audit log, a student's access log, export and erasure (个人信息保护)"),
        (name = "mailings", description = "Scheduled reminders and follow-ups, organisers' email templates, unsubscribing"),
        (name = "webhooks", description = "Signed webhooks to other systems (admins)"),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::openapi::responses::PROBLEM_JSON;

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

    /// The statuses an operation documents, e.g. `["200", "401"]`.
    fn statuses(doc: &Value, method: &str, path: &str) -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is documented"))
            .keys()
            .cloned()
            .collect()
    }

    /// What an operation takes decides errors it can give before its own
    /// work: each is documented, whatever the handler's annotation says.
    #[test]
    fn errors_from_what_an_operation_takes_are_documented() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let method = method.to_lowercase();
            let documented = statuses(&doc, &method, &path);
            let params = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let takes = |place: &str| params.iter().any(|p| p["in"] == place);
            let mut expected = vec!["422"];
            if operation.get("requestBody").is_some() {
                expected.extend(["400", "413", "415"]);
            }
            if takes("query") {
                expected.push("400");
            }
            if takes("path") {
                expected.push("404");
            }
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if secured {
                expected.push("401");
            }
            if params.iter().any(|p| p["name"] == "Idempotency-Key") {
                expected.extend(["400", "409", "422"]);
            }
            for status in expected {
                assert!(
                    documented.iter().any(|d| d == status),
                    "{method} {path} does not document {status}: {documented:?}"
                );
            }
        }
        // The handlers' own errors stay beside the shared ones.
        let create = &doc["paths"]["/api/v1/employers"]["post"]["responses"]["409"];
        let description = create["description"].as_str().expect("a description");
        assert!(
            description.contains("credit_code_taken")
                && description.contains("idempotency_in_progress"),
            "{description}"
        );
    }

    /// Public routes that read a token when one is sent refuse a bad one.
    #[test]
    fn public_routes_that_read_a_token_document_it_as_optional() {
        let doc = document();
        for path in ["/api/v1/events", "/api/v1/events/{id}"] {
            let security = &doc["paths"][path]["get"]["security"];
            assert_eq!(
                security,
                &serde_json::json!([{}, {"bearer": []}]),
                "GET {path}"
            );
            assert!(
                statuses(&doc, "get", path).contains(&"401".to_owned()),
                "GET {path}"
            );
        }
        assert!(statuses(&doc, "get", "/api/v1/events").contains(&"403".to_owned()));
    }

    /// Every export answers JSON, CSV or XLSX, and says which `format` it takes.
    #[test]
    fn exports_document_their_files() {
        let doc = document();
        for path in [
            "/api/v1/intents",
            "/api/v1/events/{id}/registrations",
            "/api/v1/reports/intents",
            "/api/v1/reports/funnel",
            "/api/v1/reports/referrals",
        ] {
            let operation = &doc["paths"][path]["get"];
            let content = operation["responses"]["200"]["content"]
                .as_object()
                .expect("content");
            let mut types: Vec<&str> = content.keys().map(String::as_str).collect();
            types.sort_unstable();
            assert_eq!(
                types,
                ["application/json", crate::http::export::XLSX, "text/csv"],
                "GET {path}"
            );
            let format = operation["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .find(|p| p["name"] == "format")
                .unwrap_or_else(|| panic!("GET {path} takes format"));
            assert!(
                format["schema"]
                    .to_string()
                    .contains("#/components/schemas/ExportFormat"),
                "GET {path}: {format}"
            );
            assert!(statuses(&doc, "get", path).contains(&"400".to_owned()));
        }
        assert_eq!(
            doc["components"]["schemas"]["ExportFormat"]["enum"],
            serde_json::json!(["csv", "xlsx", "json"])
        );
    }

    /// The live stream's events carry the figures as JSON in `data`.
    #[test]
    fn the_live_stream_documents_its_events() {
        let doc = document();
        let event = &doc["paths"]["/api/v1/events/{id}/live"]["get"]["responses"]["200"]["content"]
            ["text/event-stream"]["schema"];
        assert_eq!(event["type"], "object");
        assert_eq!(event["required"], serde_json::json!(["data"]));
        let data = &event["properties"]["data"];
        assert_eq!(data["type"], "string");
        assert_eq!(data["contentMediaType"], "application/json");
        assert_eq!(
            data["contentSchema"]["$ref"],
            "#/components/schemas/EventStats"
        );
        assert!(doc["components"]["schemas"]["EventStats"].is_object());
    }
}
