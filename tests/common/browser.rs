//! A browser stand-in for dashboard tests: keeps cookies, signs in, reads CSRF tokens and
//! hidden fields out of forms, and posts urlencoded forms over real HTTP.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{Resp, TestApp};

/// The admin password dashboard tests set with [`set_admin_password`].
pub const PASSWORD: &str = "correct horse battery";

/// Gives the first-run admin [`PASSWORD`] (which also clears the must-change flag).
pub fn set_admin_password(app: &TestApp) {
    crashbox::fleet::users::set_password(
        &app.state().db,
        &app.config.data_dir,
        "admin",
        PASSWORD,
        &crashbox::audit::Actor::Cli,
    )
    .unwrap();
}

/// A browser stand-in: keeps cookies, reads CSRF tokens out of forms.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: RefCell<BTreeMap<String, String>>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            cookies: RefCell::new(BTreeMap::new()),
        }
    }

    /// The value of a cookie the browser holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// The `Cookie` header the browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, r: Resp) -> Resp {
        for v in r.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.borrow_mut().remove(k);
            } else {
                self.cookies
                    .borrow_mut()
                    .insert(k.to_string(), val.to_string());
            }
        }
        r
    }

    pub fn get(&self, path: &str) -> Resp {
        let c = self.cookie_header();
        self.keep(self.app.get_with(path, None, &[("Cookie", &c)]))
    }

    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let c = self.cookie_header();
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.keep(self.app.post_with(
            path,
            &[("Cookie", &c)],
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        ))
    }

    /// Signs in with a password (the login form's token comes from GET /login).
    pub fn login_with(&self, user: &str, password: &str) -> Resp {
        let form = self.get("/login");
        let token = field(&form.text(), "login_csrf");
        self.post(
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("login_csrf", &token),
                ("next", "/"),
            ],
        )
    }

    /// Like [`Browser::post`], through a proxy that says the client is `ip`.
    pub fn post_from(&self, ip: &str, path: &str, fields: &[(&str, &str)]) -> Resp {
        let c = self.cookie_header();
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.keep(self.app.post_with(
            path,
            &[("Cookie", &c), ("X-Forwarded-For", ip)],
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        ))
    }

    /// Signs in from `ip` (as told by a proxy in `X-Forwarded-For`).
    pub fn login_from(&self, ip: &str, user: &str, password: &str) -> Resp {
        let token = field(&self.get("/login").text(), "login_csrf");
        self.post_from(
            ip,
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("login_csrf", &token),
                ("next", "/"),
            ],
        )
    }

    /// Signs in as the admin with [`PASSWORD`]; the session's CSRF token.
    pub fn login(&self) -> String {
        let r = self.login_with("admin", PASSWORD);
        assert_eq!(r.status, 303, "{}", r.text());
        self.csrf()
    }

    /// The session's CSRF token, read from a page's logout form.
    pub fn csrf(&self) -> String {
        field(&self.get("/devices").text(), "csrf")
    }
}

/// The value of the first hidden input called `name`.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in:\n{html}"))
        + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_string()
}

/// The `Location` header of a redirect (empty when there is none).
pub fn location(r: &Resp) -> String {
    r.header("location").unwrap_or_default()
}
