//! What anyone may read without signing in: one campaign, one position, and
//! the API's documentation page.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::{CREDIT_CODES, Reply, TestApp, spawn_app};

/// Everyone who might look: nobody signed in, a student, a recruiter of
/// another employer, an organiser.
async fn lookers(app: &TestApp, organiser: &str) -> Vec<(&'static str, Option<String>)> {
    let other = app.employer(organiser, CREDIT_CODES[1]).await;
    let (recruiter, _) = app.invited(organiser, "recruiter", Some(&other)).await;
    let student = app.student("master", 2027).await;
    vec![
        ("anonymous", None),
        ("student", Some(student.token)),
        ("other recruiter", Some(recruiter)),
        ("organiser", Some(organiser.to_owned())),
    ]
}

/// One campaign and one position are public: everyone reads the same view
/// the organiser got when creating them; an unknown or unparsable id is 404
/// `not_found`.
#[actix_web::test]
async fn anyone_reads_one_campaign_and_one_position() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let campaign = app
        .post(
            "/api/v1/campaigns",
            Some(&organiser),
            &json!({"name": "名校引才专项行动", "year": 2026, "starts_on": "2026-09-01",
                    "ends_on": "2027-06-30", "description": "鄂尔多斯市"}),
        )
        .await;
    assert_eq!(campaign.status, StatusCode::CREATED, "{}", campaign.body);
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let position = app
        .post(
            &format!("/api/v1/employers/{employer}/positions"),
            Some(&organiser),
            &json!({"title": "煤化工工艺工程师", "majors": ["化学工程"], "degree_min": "master",
                    "headcount": 4, "talent_category": "high_level", "salary_min": 12000,
                    "salary_max": 20000, "location": "准格尔旗", "benefits": ["人才公寓"]}),
        )
        .await;
    assert_eq!(position.status, StatusCode::CREATED, "{}", position.body);
    let paths = [
        (
            format!(
                "/api/v1/campaigns/{}",
                campaign.body["id"].as_str().unwrap()
            ),
            &campaign.body,
        ),
        (
            format!(
                "/api/v1/positions/{}",
                position.body["id"].as_str().unwrap()
            ),
            &position.body,
        ),
    ];
    for (who, token) in lookers(&app, &organiser).await {
        for (path, created) in &paths {
            let reply = app.get(path, token.as_deref()).await;
            assert_eq!(reply.status, StatusCode::OK, "{who} {path}: {}", reply.body);
            assert_eq!(&reply.body, *created, "{who} {path}");
        }
    }
    assert_eq!(position.body["employer_id"], json!(employer));
    assert_eq!(position.body["benefits"], json!(["人才公寓"]));
    for collection in ["campaigns", "positions"] {
        let unknown = uuid::Uuid::now_v7();
        app.get(&format!("/api/v1/{collection}/{unknown}"), None)
            .await
            .assert_problem(404, "not_found");
        app.get(&format!("/api/v1/{collection}/not-an-id"), None)
            .await
            .assert_problem(404, "not_found");
    }
}

/// `/docs` sends the browser on to `/docs/` (308, so a POST would stay a
/// POST), which is the Swagger page, served by the server itself and
/// pointed at the API's own document; nobody needs to sign in for it.
#[actix_web::test]
async fn the_docs_redirect_to_the_swagger_page() {
    let app = spawn_app().await;
    let staying = awc::Client::builder().disable_redirects().finish();
    let res = staying.get(app.url("/docs")).send().await.unwrap();
    let redirect = Reply::read(res).await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.header("location"), Some("/docs/"));

    let mut page = staying.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let content_type = page
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = String::from_utf8(page.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("<div id=\"swagger-ui\">"), "{html}");
    assert!(html.contains("swagger-initializer.js"), "{html}");

    let mut init = staying
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), StatusCode::OK);
    let script = String::from_utf8(init.body().await.unwrap().to_vec()).unwrap();
    assert!(script.contains("/api/v1/openapi.json"), "{script}");
    let followed = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(
        followed.status(),
        StatusCode::OK,
        "a browser lands on the page"
    );
}
