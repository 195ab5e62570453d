//! Request and response bodies of the accounts routes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::entities::users::{self, Degree, Role};

/// Stands for a password or a token in `Debug` output, so a body that is
/// logged or shown in a panic never carries the secret.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignupRequest {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: String,
    pub major: String,
    pub degree: Degree,
    pub graduation_year: i32,
    pub referral_code: Option<String>,
    /// The version of the privacy notice the student read and accepted;
    /// it must be the one in force (`GET /privacy/notice`).
    pub privacy_notice_version: Option<String>,
    /// Whether employers at the events the student attends may see their
    /// email and phone. Separate from the notice; false when left out.
    pub share_contacts: Option<bool>,
}

impl fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("password", &Redacted)
            .field("full_name", &self.full_name)
            .field("phone", &self.phone)
            .field("university", &self.university)
            .field("major", &self.major)
            .field("degree", &self.degree)
            .field("graduation_year", &self.graduation_year)
            .field("referral_code", &self.referral_code)
            .field("privacy_notice_version", &self.privacy_notice_version)
            .field("share_contacts", &self.share_contacts)
            .finish()
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &Redacted)
            .finish()
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh_token", &Redacted)
            .finish()
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub token: String,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("token", &Redacted)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub new_password: String,
}

impl fmt::Debug for PasswordResetConfirm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordResetConfirm")
            .field("token", &Redacted)
            .field("new_password", &Redacted)
            .finish()
    }
}

/// Profile changes; absent fields stay as they are, `""` clears `phone`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    /// Follow-up emails after events (reminders always come); false
    /// unsubscribes, as the link in those emails does.
    pub follow_up_emails: Option<bool>,
}

/// The roles an invitation can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteRole {
    Recruiter,
    Organiser,
}

impl From<InviteRole> for Role {
    fn from(role: InviteRole) -> Self {
        match role {
            InviteRole::Recruiter => Role::Recruiter,
            InviteRole::Organiser => Role::Organiser,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub email: String,
    pub role: InviteRole,
    /// Required for recruiters: the employer they act for.
    pub employer_id: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub employer_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    pub token: String,
    pub password: String,
    pub full_name: String,
}

impl fmt::Debug for AcceptInvitationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptInvitationRequest")
            .field("token", &Redacted)
            .field("password", &Redacted)
            .field("full_name", &self.full_name)
            .finish()
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UsersQuery {
    pub role: Option<Role>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// The employer of a recruiter; required when the role becomes recruiter.
    pub employer_id: Option<Uuid>,
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    pub role: Role,
    pub employer_id: Option<Uuid>,
    pub email_verified: bool,
    pub has_password: bool,
    pub disabled: bool,
    pub referral_code: String,
    pub created_at: DateTime<Utc>,
}

impl From<users::Model> for UserView {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            full_name: u.full_name,
            phone: u.phone,
            university: u.university,
            major: u.major,
            degree: u.degree,
            graduation_year: u.graduation_year,
            role: u.role,
            employer_id: u.employer_id,
            email_verified: u.email_verified_at.is_some(),
            has_password: u.password_hash.is_some(),
            disabled: u.disabled_at.is_some(),
            referral_code: u.referral_code,
            created_at: u.created_at,
        }
    }
}

/// A new session: a short-lived access token and a rotating refresh token.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub token_type: String,
}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthResponse")
            .field("user", &self.user)
            .field("access_token", &Redacted)
            .field("refresh_token", &Redacted)
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_passwords_and_tokens() {
        let signup: SignupRequest = serde_json::from_value(serde_json::json!({
            "email": "li@pku.edu.cn", "password": "secret-pw-1", "full_name": "李雷",
            "phone": null, "university": "北京大学", "major": "化学", "degree": "master",
            "graduation_year": 2027, "referral_code": null
        }))
        .unwrap();
        let shown = [
            format!("{signup:?}"),
            format!(
                "{:?}",
                LoginRequest {
                    email: "li@pku.edu.cn".into(),
                    password: "secret-pw-1".into(),
                }
            ),
            format!(
                "{:#?}",
                PasswordResetConfirm {
                    token: "secret-token".into(),
                    new_password: "secret-pw-1".into(),
                }
            ),
            format!(
                "{:?}",
                AcceptInvitationRequest {
                    token: "secret-token".into(),
                    password: "secret-pw-1".into(),
                    full_name: "王芳".into(),
                }
            ),
            format!(
                "{:?}",
                RefreshRequest {
                    refresh_token: "secret-token".into(),
                }
            ),
            format!(
                "{:?}",
                TokenRequest {
                    token: "secret-token".into(),
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains("secret"), "a secret shows in {text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
        let login = format!(
            "{:?}",
            LoginRequest {
                email: "li@pku.edu.cn".into(),
                password: "secret-pw-1".into(),
            }
        );
        assert_eq!(
            login,
            r#"LoginRequest { email: "li@pku.edu.cn", password: [redacted] }"#
        );
    }
}
