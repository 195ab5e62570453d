//! The OpenAPI 3 document, generated from the handlers and DTOs.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::{accounts, checkin, events, http, intents, notify, ops, registrations, reports};

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
    modifiers(&BearerAuth),
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
