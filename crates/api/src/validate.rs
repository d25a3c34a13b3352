//! Field checks beyond what serde's types express, collected into one `422`.

use crate::error::{ApiError, ValidationItem};

/// Collects every problem with a body so the client sees them all at once.
#[derive(Debug, Default)]
pub struct Validator {
    items: Vec<ValidationItem>,
}

impl Validator {
    pub fn check(&mut self, ok: bool, path: &[&str], msg: &str) -> &mut Self {
        if !ok {
            self.items.push(ValidationItem::body(path, msg));
        }
        self
    }

    /// A Svix identifier-like string: `^[a-zA-Z0-9\-_.]+$`, 1 to `max` characters.
    pub fn slug(&mut self, value: &str, max: usize, path: &[&str]) -> &mut Self {
        let ok = is_slug(value) && value.len() <= max;
        self.check(ok, path, &format!("must be 1 to {max} characters of a-z, A-Z, 0-9, '-', '_' and '.'"))
    }

    pub fn optional_slug(&mut self, value: Option<&str>, max: usize, path: &[&str]) -> &mut Self {
        if let Some(value) = value {
            self.slug(value, max, path);
        }
        self
    }

    /// Every entry of a list is a slug; the list has at most `max_items` entries.
    pub fn slug_list(&mut self, values: Option<&[String]>, max_items: usize, max: usize, path: &str) -> &mut Self {
        let Some(values) = values else { return self };
        self.check(values.len() <= max_items, &[path], &format!("must have at most {max_items} entries"));
        for (index, value) in values.iter().enumerate() {
            let index = index.to_string();
            self.slug(value, max, &[path, &index]);
        }
        self
    }

    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.items.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(std::mem::take(&mut self.items)))
        }
    }
}

pub fn is_slug(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why an endpoint URL is unusable, if it is.
pub fn url_problem(value: &str) -> Option<&'static str> {
    const MAX_URL_LENGTH: usize = 65_536;
    if value.len() > MAX_URL_LENGTH {
        return Some("must be at most 65536 characters");
    }
    match url::Url::parse(value) {
        Err(_) => Some("must be an absolute URL"),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => Some("must use the http or https scheme"),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => Some("must name a host"),
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Some("must not carry credentials; use endpoint headers instead")
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "user.created", "A-b_c.9"] {
            assert!(is_slug(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", "a:b"] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(url_problem("https://example.com/hook"), None);
        assert_eq!(url_problem("http://127.0.0.1:9000/x"), None);
        assert!(url_problem("example.com").is_some());
        assert!(url_problem("ftp://example.com").is_some());
        assert!(url_problem("https://user:pw@example.com").is_some());
        assert!(url_problem("").is_some());
    }
}
