//! Campaigns, employers, positions, events and registrations. Employers come
//! first: the accounts feature binds recruiters to them.

pub mod campaigns;
pub mod catalog;
pub mod checkins;
pub mod employers;
pub mod live;
pub mod positions;
pub mod registrations;
pub mod tickets;

use actix_web::web;

/// Every route of this feature, under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    employers::configure(cfg);
    positions::configure(cfg);
    campaigns::configure(cfg);
    catalog::configure(cfg);
    registrations::configure(cfg);
    checkins::configure(cfg);
    live::configure(cfg);
}
