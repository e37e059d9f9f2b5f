//! A browser's worth of HTTP for the console tests that need no real browser: cookies kept as
//! a browser keeps them (each checked `HttpOnly` and `SameSite=Strict`), no redirects followed,
//! forms posted with the token and the hidden fields of the page that offers them; and the first
//! admin set up and signed in.

use caseledger_app::NewUser;
use caseledger_domain::{Department, Role};
use reqwest::header::{HeaderMap, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use uuid::Uuid;

/// The password the tests' people choose.
pub const PASSWORD: &str = "维权干部的长密码一二三四";

/// A browser's worth of state: the cookies it holds, no redirects followed.
pub struct Browser {
    client: reqwest::Client,
    /// The origin its forms are posted from.
    pub origin: String,
    /// The cookies it holds, by name.
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(origin: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            origin: origin.to_owned(),
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            assert!(
                text.contains("HttpOnly") && text.contains("SameSite=Strict"),
                "{text}"
            );
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// The `Cookie` header it sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, url: &str) -> (StatusCode, HeaderMap, String) {
        let response = self
            .client
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        self.keep(&headers);
        (status, headers, response.text().await.unwrap())
    }

    pub async fn post(
        &mut self,
        url: &str,
        origin: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let response = self
            .client
            .post(url)
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, origin)
            .form(fields)
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        self.keep(&headers);
        (status, headers, response.text().await.unwrap())
    }

    /// Posts a form the way the page at `page` offers it: with that page's form token.
    pub async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let (status, _, body) = self.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        let token = form_token(&body);
        let mut all = vec![("_form_token", token.as_str())];
        all.extend_from_slice(fields);
        let origin = self.origin.clone();
        self.post(action, &origin, &all).await
    }
}

pub fn form_token(page: &str) -> String {
    let marker = "name=\"_form_token\" value=\"";
    let start = page.find(marker).expect("the page has a form token") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

pub fn location(headers: &HeaderMap) -> &str {
    headers.get(LOCATION).unwrap().to_str().unwrap()
}

/// The first admin follows the setup link, chooses a password and signs in.
pub async fn set_up_admin(app: &crate::support::TestApp) -> Browser {
    let mut browser = Browser::new(&app.address);
    let url = app.admin_setup_url.clone();
    let (status, headers, _) = browser
        .submit(
            &url,
            &url,
            &[("password", PASSWORD), ("password_again", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/console/sign-in?done=1");
    let sign_in = format!("{}/console/sign-in", app.address);
    let (status, headers, _) = browser
        .submit(
            &sign_in,
            &sign_in,
            &[
                ("login", "admin"),
                ("password", PASSWORD),
                ("next", "/console/"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/console/");
    browser
}

/// The hidden fields of the form posted to `action` on `page` (its token, the version it was
/// shown with, its idempotency key), as the browser would send them.
/// The name of the case page's form that posts to `action`: `notes`, `service-<letter id>`, …;
/// none for a form of another page.
fn form_name(action: &str) -> Option<String> {
    let parts: Vec<&str> = action.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["console", "cases", _, "letters", letter, command] => {
            let form = match *command {
                "response" => "answer",
                "follow-up" => "follow_up",
                other => other,
            };
            Some(format!("{form}-{letter}"))
        }
        ["console", "cases", _, "attachments", attachment, "withdraw"] => {
            Some(format!("withdraw-{attachment}"))
        }
        ["console", "cases", _, command] => Some((*command).to_owned()),
        _ => None,
    }
}

impl Browser {
    /// The page that holds the form posting to `action`, as a person opening it on `page`
    /// gets it: `page` itself when the form is there, else the page its folded form fetches
    /// (`?form=…&version=…`, the version `page` was showing).
    pub async fn with_form(&mut self, page: &str, origin: &str, action: &str) -> String {
        let Some(name) = form_name(action) else {
            return page.to_owned();
        };
        let folded = page
            .find(&format!("<details class=\"command\" id=\"form-{name}\""))
            .map(|at| &page[at..at + page[at..].find("</details>").unwrap()])
            .is_some_and(|details| !details.contains("<form"));
        if !folded && page.contains(&format!("action=\"{action}\"")) {
            return page.to_owned();
        }
        let case_path: String = action.split('/').take(4).collect::<Vec<_>>().join("/");
        let link = format!("href=\"{case_path}?form={name}&amp;version=");
        let at = page
            .find(&link)
            .unwrap_or_else(|| panic!("the page offers no form posting to {action}"));
        let start = at + "href=\"".len();
        let end = start + page[start..].find(['"', '#']).unwrap();
        let url = format!("{origin}{}", page[start..end].replace("&amp;", "&"));
        let (status, _, fetched) = self.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(
            fetched.contains(&format!("action=\"{action}\"")),
            "{url} has no form posting to {action}: {fetched}"
        );
        fetched
    }
}

pub fn hidden_fields(page: &str, action: &str) -> Vec<(String, String)> {
    let marker = format!("action=\"{action}\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("the page has no form posting to {action}"));
    let form = &page[start..start + page[start..].find("</form>").unwrap()];
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find("type=\"hidden\" name=\"") {
        rest = &rest[at + "type=\"hidden\" name=\"".len()..];
        let name = &rest[..rest.find('"').unwrap()];
        let value_marker = "value=\"";
        let value_at = rest.find(value_marker).unwrap() + value_marker.len();
        let value = &rest[value_at..value_at + rest[value_at..].find('"').unwrap()];
        fields.push((name.to_owned(), value.to_owned()));
    }
    fields
}

/// A person of `role` (with `department` for partners), made by the admin, who chose a
/// password through their setup link and signed in to the console. Returns their browser and
/// their account's id.
pub async fn person_signed_in(
    app: &crate::support::TestApp,
    login: &str,
    name: &str,
    role: Role,
    department: Option<&str>,
) -> (Browser, Uuid) {
    let admin = app.app.authenticate(&app.admin_token).unwrap();
    let created = app
        .app
        .create_user(
            &admin,
            NewUser {
                login: login.into(),
                name: name.into(),
                role,
                department: department.map(|d| Department::new(d).unwrap()),
            },
        )
        .await
        .unwrap();
    app.app
        .complete_setup(&created.setup_token, PASSWORD)
        .await
        .unwrap();
    let mut browser = Browser::new(&app.address);
    let sign_in = format!("{}/console/sign-in", app.address);
    let (status, headers, page) = browser
        .submit(
            &sign_in,
            &sign_in,
            &[
                ("login", login),
                ("password", PASSWORD),
                ("next", "/console/"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location(&headers), "/console/");
    (browser, created.user.id)
}
